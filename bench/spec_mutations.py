"""The conformance matrix's mutation check (docs/mqtt.md ids): break the service on purpose, one rule at a time,
and print which of the tests that name the rule fail. Every change is undone at once (the file is written
back even when pytest is interrupted); run it on a clean work tree: `python bench/spec_mutations.py [P-7 ...]`."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FB = "tests/firmware_bridge/"
MUTATIONS = [
 ("P-7", "firmware_bridge/channel.py", "ack.seq < self.last_ack_seq and not ack.need_full:", "ack.seq < self.last_ack_seq:", [FB+"test_pillar_faults.py"]),
 ("P-8", "firmware_bridge/channel.py", "if ack.seq is not None and ack.seq > max(self.sequence, now):", "if False:", [FB+"test_pillar_faults.py"]),
 ("P-16", "firmware_bridge/channel.py", "or self.repeats >= 2:", "or self.repeats >= 99:", [FB+"test_pillar_faults.py"]),
 ("P-43", "firmware_bridge/limits.py", "self.gap = min(self.most, max(self.first, self.gap * 2))", "self.gap = 0", [FB+"test_pillar_faults.py"]),
 ("P-44", "displays/shell/service.py", "            self.wake.set()  # an answer deferred", "            pass  # an answer deferred", [FB+"test_pillar_service.py"]),
 ("P-38", "firmware_bridge/channel.py", "rects and self.partials >= self.full_refresh_every", "rects and self.partials + 1 >= self.full_refresh_every", [FB+"test_pillar_faults.py", FB+"test_protocol.py"]),
 ("P-46", "firmware_bridge/fitting.py", "    if len(board_json) <= room:", "    if True:", [FB+"test_pillar_faults.py", FB+"test_pillar_service.py"]),
 ("P-3", "firmware_bridge/channel.py", "return min(self.max_packet, self.pillar_max_packet or self.max_packet)", "return self.max_packet", [FB+"test_pillar_faults.py"]),
 ("P-21", "firmware_bridge/channel.py", "        frame = self.current\n        if frame is None:\n            return []\n        if self.known and self.pillar_hash is None:", "        frame = self.current\n        if frame is None or not self.online:\n            return []\n        if self.known and self.pillar_hash is None:", [FB+"test_pillar_faults.py", FB+"test_states.py"]),
 ("P-22", "firmware_bridge/channel.py", "        out = self._delta(old, base, now, whole=False)\n        self.last_shown = frame.hash\n        return out", "        return []", [FB+"test_pillar_faults.py"]),
 ("P-47", "layouts/board.py", "if pages and not settings.pinned_alerts else 0", "if pages else 0", [FB+"test_pillar_service.py"]),
 ("P-1", "firmware_bridge/acl.py", "            f\"topic read {display_topic(prefix, display_id, 'ticker')}\",\n", "", [FB+"test_acl.py"]),
 ("P-20", "displays/core/pillar_limits.py", "now - self.logged_at < LOG_EVERY", "now - self.logged_at < 0", [FB+"test_pillar_service.py"]),
 ("P-40", "firmware_bridge/channel.py", "self.ack_wait = min(ANSWER_GAP_MAX, self.ack_wait * 2)", "pass", [FB+"test_spec_rules.py", FB+"test_protocol.py"]),
 ("P-45", "displays/core/pillar_limits.py", "or pillar.streak < ASKS_TOO_OFTEN_AFTER):", "or True):", [FB+"test_pillar_service.py"]),
 ("P-14", "firmware_bridge/channel.py", "if ack.need_full and ack.hash is not None and self.current is not None:", "if False:", [FB+"test_pillar_faults.py"]),
 ("P-37", "firmware_bridge/channel.py", "return self._board() + self._retained(now) + self._to_pillar(now)\n\n    def tick", "return self._board() + self._to_pillar(now)\n\n    def tick", [FB+"test_protocol.py", FB+"test_conformance.py"]),
 ("P-29", "firmware_bridge/pillar.py", "key = (header.kind, header.epoch, header.sequence, header.content_hash, header.base_hash)", "key = (header.kind, header.epoch, header.sequence)", [FB+"test_spec_rules.py"]),
 ("F-5", "displays/core/forecasting.py", "return bool(shared) and all(old[start] == h", "return False and all(old[start] == h", [FB+"test_forecast.py"]),
 ("P-49", "displays/shell/service.py", "[t if len(t.payload) <= room else replace(t, payload=b\"\") for t in ticker]", "ticker", [FB+"test_pillar_service.py"]),
]
only = sys.argv[1:]
for sid, rel, old, new, tests in MUTATIONS:
    if only and sid not in only:
        continue
    path = ROOT / rel
    text = path.read_text()
    assert text.count(old) == 1, (sid, old)
    path.write_text(text.replace(old, new))
    try:
        run = subprocess.run(["nice", "-n", "10", ".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                             cwd=ROOT, capture_output=True, text=True)
    finally:
        path.write_text(text)
    failed = [l.split("::", 1)[1].split(" ")[0] for l in run.stdout.splitlines() if l.startswith("FAILED")]
    print(f"{sid}\t{rel}: {old.strip()[:60]!r} -> {new.strip()[:40]!r}\n\tfailed: {', '.join(failed) or 'NOTHING'}", flush=True)
