// The number flags of trendd: each takes a value in its range, bounds
// included, and refuses at start - exit status 2 and a message naming the
// flag and its range - a value below or above it, one that is not a number,
// an empty one, and a fraction where it wants an integer. A value taken is
// followed by --version, which prints the version and exits 0 once the
// flags before it have been read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { BIN } from '../lib/harness.mjs';

const FLAGS = [
  { flag: 'lateness', lo: '0', hi: '3000', range: '0..3000 seconds', good: ['2.5'], bad: ['-0.5', '3000.5'] },
  { flag: 'top-m', lo: '16', hi: '10000000', range: '16..10000000', good: ['4096'], bad: ['15', '10000001', '16.5', '1e3'] },
  { flag: 'view-top-m', lo: '16', hi: '10000000', range: '16..10000000', good: ['2048'], bad: ['15', '10000001', '20.0'] },
  { flag: 'view-budget-ms', lo: '0', hi: '60000', range: '0..60000', good: ['200'], bad: ['-1', '60001', '0.5'] },
  { flag: 'checkpoint-ms', lo: '50', hi: '3600000', range: '50..3600000', good: ['5000'], bad: ['49', '3600001', '100.5'] },
  { flag: 'recent-posts', lo: '0', hi: '1000000', range: '0..1000000', good: ['20000'], bad: ['-1', '1000001', '7.5'] },
  { flag: 'demo-rate', lo: '0.5', hi: '100000', range: '0..100000 posts/s', good: ['40'], bad: ['-1', '100000.5'] },
];

const run = (args) => spawnSync(BIN, args, { encoding: 'utf8' });
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('number flags', () => {
  for (const f of FLAGS) {
    it(`--${f.flag} takes ${f.lo}, ${f.hi} and ${f.good.join(', ')}`, () => {
      for (const v of [f.lo, f.hi, ...f.good]) {
        const p = run([`--${f.flag}`, v, '--version']);
        assert.equal(p.status, 0, `--${f.flag} ${v}: ${p.stderr}`);
        assert.match(p.stdout, /^trendd /);
      }
    });

    it(`--${f.flag} refuses what is out of ${f.range} or not a number`, () => {
      for (const v of [...f.bad, 'many', '12abc', '']) {
        const p = run([`--${f.flag}`, v, '--version']);
        assert.equal(p.status, 2, `--${f.flag} '${v}' was taken: ${p.stdout}`);
        assert.equal(p.stdout, '');
        assert.match(p.stderr, new RegExp(`--${escape(f.flag)} wants ${escape(f.range)}, not '${escape(v)}'`));
      }
    });
  }

  it('--demo-rate refuses 0', () => {
    const p = run(['--demo-rate', '0', '--version']);
    assert.equal(p.status, 2);
    assert.match(p.stderr, /--demo-rate wants more than 0 posts\/s/);
  });
});
