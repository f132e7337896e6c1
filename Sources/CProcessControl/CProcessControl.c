#include "CProcessControl.h"
#include <sys/prctl.h>

int cprocess_disable_dumping(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
