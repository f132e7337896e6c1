"""Calls the Messages API with the official SDK, as a user's job would: messages.create and messages.stream in
turn for SECONDS (at least one of each), configured by the environment alone. Prints one JSON line:
{"creates": N, "streams": N, "failures": ["..."], "texts": [...distinct answers]}."""
import json
import sys
import time

import anthropic

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0
# No SDK retries: a failure the proxy or the daemon caused must show, not be retried away.
client = anthropic.Anthropic(max_retries=0)
creates = streams = 0
failures = []
texts = set()
deadline = time.monotonic() + seconds
while creates == 0 or streams == 0 or time.monotonic() < deadline:
    try:
        message = client.messages.create(model="claude-test", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        texts.add(message.content[0].text)
        creates += 1
        with client.messages.stream(model="claude-test", max_tokens=16, messages=[{"role": "user", "content": "hi"}]) as stream:
            texts.add(stream.get_final_text())
        streams += 1
    except Exception as error:  # every failure is reported, with its type
        failures.append(f"{type(error).__name__}: {error}")
        if len(failures) > 20:
            break
print(json.dumps({"creates": creates, "streams": streams, "failures": failures, "texts": sorted(texts)}))
