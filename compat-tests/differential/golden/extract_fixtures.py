#!/usr/bin/env python3
"""Write the golden fixtures listed in fixtures.sel from the captures (default
golden/captures/*.jsonl, as written by run_capture.sh) into jute/tests/fixtures/:
one NAME.hex per frame (whole frame incl. 4-byte length prefix, one line of hex)
plus index.tsv.   usage: extract_fixtures.py [CAPTURE_DIR] [OUT_DIR]"""
import collections
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
capdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'captures')
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, '..', '..', '..', 'jute', 'tests', 'fixtures')
sel = [l.strip() for l in open(os.path.join(here, 'fixtures.sel'))
       if l.strip() and not l.startswith('#')]
by = collections.defaultdict(list)
for l in sel:
    name, spec = l.split('=')
    cap, rest = spec.split(':', 1)
    by[cap].append('%s=%s' % (name, rest))
rows, header = [], None
os.makedirs(out, exist_ok=True)
for cap, specs in by.items():
    tmp = tempfile.mkdtemp()
    subprocess.run([sys.executable, os.path.join(here, '..', 'capture.py'), 'extract',
                    os.path.join(capdir, cap + '.jsonl'), tmp] + specs, check=True)
    lines = open(os.path.join(tmp, 'index.tsv')).read().splitlines()
    header = lines[0]
    rows += lines[1:]
    for f in os.listdir(tmp):
        if f.endswith('.hex'):
            os.replace(os.path.join(tmp, f), os.path.join(out, f))
order = {l.split('=')[0]: i for i, l in enumerate(sel)}
rows.sort(key=lambda r: order[r.split('\t')[0][:-4]])
with open(os.path.join(out, 'index.tsv'), 'w') as f:
    f.write(header + '\n' + '\n'.join(rows) + '\n')
print('%d fixtures in %s' % (len(rows), os.path.normpath(out)))
