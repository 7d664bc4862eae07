// Which hosts and addresses a transformation's fetch may reach.
import { isBlockedAddress, isHostAllowed } from '../../src/sandbox/fetch-policy';

test.each([
  '0.0.0.0',
  '10.1.2.3',
  '100.64.0.1',
  '100.127.255.255',
  '127.0.0.1',
  '127.255.0.9',
  '169.254.169.254',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '224.0.0.1',
  '255.255.255.255',
  '::',
  '::1',
  '0:0:0:0:0:0:0:1',
  'fc00::1',
  'fd12:3456::1',
  'fe80::1',
  'fe80::1%eth0',
  'ff02::1',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:10.0.0.1',
  '::ffff:a9fe:a9fe',
  '::127.0.0.1',
  '64:ff9b::a00:1',
  '2002:c0a8:101::1',
  'not-an-address',
])('%s is blocked', (address) => {
  expect(isBlockedAddress(address)).toBe(true);
});

test.each([
  '8.8.8.8',
  '93.184.216.34',
  '100.128.0.1',
  '172.32.0.1',
  '192.169.0.1',
  '2606:4700:4700::1111',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
  '2002:808:808::1',
])('%s is allowed', (address) => {
  expect(isBlockedAddress(address)).toBe(false);
});

test.each([
  ['api.example.com', ['api.example.com'], true],
  ['API.Example.com.', ['api.example.com'], true],
  ['other.example.com', ['api.example.com'], false],
  ['a.example.com', ['*.example.com'], true],
  ['a.b.example.com', ['*.example.com'], true],
  ['example.com', ['*.example.com'], false],
  ['badexample.com', ['*.example.com'], false],
  ['example.com.evil.io', ['*.example.com'], false],
  ['[::1]', ['::1'], true],
  ['anything.io', [], false],
] as const)('%s against %j → %s', (host, allowList, allowed) => {
  expect(isHostAllowed(host, allowList)).toBe(allowed);
});
