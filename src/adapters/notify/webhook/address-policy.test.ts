import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EarshotError } from '../../../core/errors.js';
import { checkAddress, classifyAddress, isAllowlisted, parseAllowlist, type AddressClass } from './address-policy.js';

const expectClasses = (cases: Record<string, AddressClass>) => {
  for (const [ip, cls] of Object.entries(cases)) assert.equal(classifyAddress(ip), cls, ip);
};

describe('classifyAddress', () => {
  it('classifies IPv4 special ranges at their edges', () => {
    expectClasses({
      '0.0.0.0': 'unspecified',
      '0.255.255.255': 'unspecified',
      '1.0.0.1': 'public',
      '9.255.255.255': 'public',
      '10.0.0.0': 'private',
      '10.255.255.255': 'private',
      '11.0.0.0': 'public',
      '100.63.255.255': 'public',
      '100.64.0.0': 'cgnat',
      '100.127.255.255': 'cgnat',
      '100.128.0.0': 'public',
      '127.0.0.1': 'loopback',
      '127.255.255.254': 'loopback',
      '169.254.169.254': 'link-local',
      '169.255.0.1': 'public',
      '172.15.255.255': 'public',
      '172.16.0.0': 'private',
      '172.31.255.255': 'private',
      '172.32.0.0': 'public',
      '192.0.0.8': 'reserved',
      '192.0.1.1': 'public',
      '192.0.2.1': 'reserved',
      '192.167.255.255': 'public',
      '192.168.1.1': 'private',
      '198.17.255.255': 'public',
      '198.18.0.0': 'reserved',
      '198.19.255.255': 'reserved',
      '198.20.0.0': 'public',
      '203.0.113.5': 'reserved',
      '8.8.8.8': 'public',
      '223.255.255.255': 'public',
      '224.0.0.1': 'multicast',
      '239.255.255.255': 'multicast',
      '240.0.0.1': 'reserved',
      '255.255.255.254': 'reserved',
      '255.255.255.255': 'broadcast',
    });
  });

  it('classifies IPv6, including IPv4 embedded by mapping and NAT64', () => {
    expectClasses({
      '::': 'unspecified',
      '::1': 'loopback',
      '[::1]': 'loopback',
      '0:0:0:0:0:0:0:1': 'loopback',
      '::2': 'reserved',
      '::127.0.0.1': 'reserved',
      '::ffff:127.0.0.1': 'loopback',
      '::ffff:7f00:1': 'loopback',
      '::ffff:10.1.2.3': 'private',
      '::ffff:169.254.169.254': 'link-local',
      '::ffff:0.0.0.0': 'unspecified',
      '::ffff:8.8.8.8': 'public',
      '64:ff9b::127.0.0.1': 'loopback',
      '64:ff9b::a00:1': 'private',
      '64:ff9b::808:808': 'public',
      '64:ff9b:1::1': 'reserved',
      'fc00::1': 'private',
      'fdff:ffff::1': 'private',
      'fe80::1': 'link-local',
      'fe80::1%eth0': 'link-local',
      'febf::1': 'link-local',
      'fec0::1': 'private',
      'ff02::1': 'multicast',
      '2001:db8::1': 'reserved',
      '2001::1': 'reserved',
      '2002:7f00:1::1': 'loopback',
      '2002:808:808::1': 'public',
      '2606:4700:4700::1111': 'public',
      '2a00:1450:4001::200e': 'public',
      '3fff::1': 'reserved',
      '4000::1': 'reserved',
      '100::1': 'reserved',
    });
  });

  it('calls anything else invalid', () => {
    for (const s of ['', 'localhost', '1.2.3', '01.2.3.4', '1.2.3.4.5', '::g', '256.1.1.1']) assert.equal(classifyAddress(s), 'invalid', s);
  });
});

describe('allow-list', () => {
  const list = parseAllowlist(['hooks.internal', 'Localhost.', ' 10.0.0.0/8 ', '192.168.1.7', '[::1]', 'fd00::/8', '::ffff:172.16.0.0/108', '']);

  it('matches host names exactly, ignoring case and a trailing dot', () => {
    assert.equal(isAllowlisted('hooks.internal', '10.9.9.9', list), true);
    assert.equal(isAllowlisted('HOOKS.internal.', '127.0.0.1', list), true);
    assert.equal(isAllowlisted('localhost', '127.0.0.1', list), true);
    assert.equal(isAllowlisted('a.hooks.internal', '127.0.0.1', list), false);
    assert.equal(isAllowlisted('hooks.internal.evil.com', '127.0.0.1', list), false);
  });

  it('matches addresses against CIDRs and bare IPs, IPv4-mapped IPv6 as IPv4', () => {
    assert.equal(isAllowlisted('x.example', '10.200.1.1', list), true);
    assert.equal(isAllowlisted('x.example', '11.0.0.1', list), false);
    assert.equal(isAllowlisted('x.example', '192.168.1.7', list), true);
    assert.equal(isAllowlisted('x.example', '192.168.1.8', list), false);
    assert.equal(isAllowlisted('x.example', '::1', list), true);
    assert.equal(isAllowlisted('[::1]', undefined, list), true);
    assert.equal(isAllowlisted('x.example', 'fd12::1', list), true);
    assert.equal(isAllowlisted('x.example', 'fc00::1', list), false);
    assert.equal(isAllowlisted('x.example', '::ffff:10.0.0.1', list), true);
    assert.equal(isAllowlisted('x.example', '172.16.5.5', list), true, 'a mapped CIDR entry matches plain IPv4');
    assert.equal(isAllowlisted('x.example', '172.32.0.1', list), false);
    assert.equal(isAllowlisted('10.1.1.1', '10.1.1.1', list), true);
  });

  it('handles /0 and odd prefix lengths', () => {
    const any = parseAllowlist(['0.0.0.0/0']);
    assert.equal(isAllowlisted('h', '127.0.0.1', any), true);
    assert.equal(isAllowlisted('h', '::1', any), false);
    const odd = parseAllowlist(['100.64.0.0/10']);
    assert.equal(isAllowlisted('h', '100.127.255.255', odd), true);
    assert.equal(isAllowlisted('h', '100.128.0.0', odd), false);
  });

  it('refuses entries that are none of name, IP or CIDR', () => {
    for (const bad of ['10.0.0.0/33', '::1/129', 'http://hooks.internal', 'host name', '*.example.com', '10.0.0.0/x', 'a..b']) {
      assert.throws(() => parseAllowlist([bad]), (err: unknown) => err instanceof EarshotError && err.code === 'invalid_config', bad);
    }
  });
});

describe('checkAddress', () => {
  const list = parseAllowlist(['127.0.0.0/8', 'hooks.internal', '0.0.0.0']);

  it('passes public addresses and allow-listed ones, refuses the rest with their class', () => {
    assert.deepEqual(checkAddress('example.com', '93.184.216.34', parseAllowlist([])), { ok: true });
    assert.deepEqual(checkAddress('127.0.0.1', '127.0.0.1', list), { ok: true });
    assert.deepEqual(checkAddress('hooks.internal', '10.1.1.1', list), { ok: true });
    assert.deepEqual(checkAddress('other.example', '10.1.1.1', list), { ok: false, reason: 'private' });
    assert.deepEqual(checkAddress('other.example', '169.254.169.254', list), { ok: false, reason: 'link-local' });
  });

  it('never passes unspecified, multicast or broadcast addresses, allow-listed or not', () => {
    assert.deepEqual(checkAddress('0.0.0.0', '0.0.0.0', list), { ok: false, reason: 'unspecified' });
    assert.deepEqual(checkAddress('hooks.internal', '::', list), { ok: false, reason: 'unspecified' });
    assert.deepEqual(checkAddress('hooks.internal', '224.0.0.1', list), { ok: false, reason: 'multicast' });
    assert.deepEqual(checkAddress('hooks.internal', '255.255.255.255', list), { ok: false, reason: 'broadcast' });
  });
});
