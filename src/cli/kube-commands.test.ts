import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../engines/kubernetes/index.ts';
import { LABELS } from '../operator/app/names.ts';
import { COPY_COMPONENT } from '../operator/app/volume-copy.ts';
import { removedClaimsSummary } from './kube-commands.ts';

const claim = (name: string, copy = false): KubeObject => ({
  metadata: { name, labels: { [LABELS.app]: 'notes', ...(copy ? { [LABELS.component]: COPY_COMPONENT.claim } : {}) } },
});

test('delete --volumes on a cluster names the data claims and counts the volume copies it removed', () => {
  const cases: [KubeObject[], string][] = [
    [[], 'no volume claims removed'],
    [[claim('data-notes-0')], 'pvc/data-notes-0 removed'],
    [
      [claim('data-notes-0'), claim('data-notes-0-molt-g2', true), claim('data-notes-0-molt-g2-displaced', true)],
      'pvc/data-notes-0 removed; 2 volume copies removed',
    ],
    [[claim('data-notes-0-molt-g3', true)], 'no volume claims removed; 1 volume copy removed'],
  ];
  for (const [claims, summary] of cases) assert.equal(removedClaimsSummary(claims), summary);
});
