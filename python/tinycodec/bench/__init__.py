"""`tinycodec bench`: whole images through devices, checked byte for byte against the host (docs/bench.md).

- records.py  the session folder's journals and record helpers (no other bench module is imported there)
- session.py  the session's config, the boards, the threaded run loop (tiles, timing repeats)
- results.py  results.json / results.csv / .tcz / report built from the records; the text summary
- baselines.py JPEG / WebP / JPEG 2000 on the same images (a committed eval report, else evaluate.sweep)
- report.py   report.html
- run.py      the verb from start to finish (new or resumed session, QEMU boards, devices); the CLI calls it

The device link itself is tinycodec.link (no TensorFlow, no evaluator)."""
