import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSnapshots } from './render.ts';
import { snapshotSets } from './kube-snapshots.ts';

test('molt snapshots on a cluster: one set per upgrade (generation), the copy and what a rollback displaced, sized', () => {
  const claim = (generation: number, kind: 'snapshot' | 'displaced', bytes?: number) => ({
    name: `data-notes-0-molt-g${generation}${kind === 'displaced' ? '-displaced' : ''}`,
    member: 'notes-0',
    volume: 'data',
    generation,
    kind,
    createdAt: `2030-01-0${generation}T00:00:00Z`,
    from: `${generation}.0.0`,
    to: `${generation + 1}.0.0`,
    ...(bytes !== undefined ? { bytes } : {}),
  });
  const sets = snapshotSets([claim(4, 'displaced', 2048), claim(2, 'snapshot', 3 * 1024 * 1024), claim(4, 'snapshot')]);
  assert.deepEqual(
    sets.map((s) => [s.operation, s.from, s.to, s.entries.map((e) => `${e.volume} ${e.file} ${e.bytes}`)]),
    [
      [2, '2.0.0', '3.0.0', ['data pvc/data-notes-0-molt-g2 3145728']],
      [
        4,
        '4.0.0',
        '5.0.0',
        ['data.displaced pvc/data-notes-0-molt-g4-displaced 2048', 'data pvc/data-notes-0-molt-g4 0'],
      ],
    ],
  );
  const table = renderSnapshots(sets, 'table');
  assert.match(table, /OPERATION\s+FROM\s+TO\s+VOLUME\s+SIZE\s+AGE\s+FILE/);
  assert.match(table, /2\s+2\.0\.0\s+3\.0\.0\s+data\s+3\.0 MiB\s+\S+\s+pvc\/data-notes-0-molt-g2/);
});
