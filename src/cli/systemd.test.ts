import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unitDir, unitText } from './systemd.ts';

test("the unit is a oneshot `molt up` after network-online, with molt's home and engine", () => {
  const text = unitText({
    molt: '/opt/molt/bin/molt',
    home: '/var/lib/molt',
    engine: 'unix:///run/podman/podman.sock',
    env: { PATH: '/usr/bin:/bin', CONTAINER_HOST: 'unix:///x y.sock' },
    user: false,
  });
  const lines = text.split('\n');
  for (const l of [
    '[Unit]',
    'Wants=network-online.target',
    'After=network-online.target',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    '[Install]',
    'WantedBy=multi-user.target',
  ]) {
    assert.ok(lines.includes(l), `has ${l}:\n${text}`);
  }
  assert.ok(
    lines.includes('ExecStart=/opt/molt/bin/molt --home /var/lib/molt --engine unix:///run/podman/podman.sock up'),
    text,
  );
  assert.ok(lines.includes('Environment="CONTAINER_HOST=unix:///x y.sock"'), 'values with spaces are quoted');
  assert.ok(lines.includes('Environment=PATH=/usr/bin:/bin'));
  assert.ok(
    lines.indexOf('[Unit]') < lines.indexOf('[Service]') && lines.indexOf('[Service]') < lines.indexOf('[Install]'),
  );
});

test('a user unit goes to ~/.config/systemd/user and is wanted by default.target', () => {
  const text = unitText({ molt: '/m', home: '/h', env: {}, user: true });
  assert.match(text, /^WantedBy=default\.target$/m);
  assert.doesNotMatch(text, /--engine/);
  assert.equal(unitDir(true, { XDG_CONFIG_HOME: '/home/u/.config' }), '/home/u/.config/systemd/user');
  assert.equal(unitDir(false, {}), '/etc/systemd/system');
});
