#!/usr/bin/env node
// MQTT.js scenarios against a running broker, driven by
// engine/interop_mqttjs_test.go.
//
//   node scenarios.js <host:port> <scenario> <protocolVersion 4|5>
//
// Prints one JSON line on stdout: what the clients saw (connack flags and
// reason codes, granted QoS, received messages with their properties), plus
// "failures", the checks this program makes itself. Exit status 0 when
// failures is empty, 1 when a check failed, 2 on an exception or the
// overall timeout. The Go test asserts on the JSON, so both sides check.
'use strict';

const mqtt = require('mqtt');

const [addr, scenario, versionArg] = process.argv.slice(2);
const version = Number(versionArg || 5);
const WAIT_MS = 5000; // for one expected event
const SETTLE_MS = 250; // for "nothing more arrives" checks
const TOTAL_MS = 15000; // whole scenario

// A user of the Go test's password file (startAuthBroker).
const USER = 'alice';
const PASSWORD = 's3cret';

const failures = [];
const out = { scenario, version, failures };

function expect(ok, what) {
  if (!ok) failures.push(what);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// props converts a packet's v5 properties to JSON-friendly values
// (Buffers become UTF-8 strings).
function props(p) {
  if (!p) return undefined;
  const o = {};
  for (const [k, v] of Object.entries(p)) {
    o[k] = Buffer.isBuffer(v) ? v.toString('utf8') : v;
  }
  return o;
}

// record is the JSON form of a received PUBLISH.
function record(topic, payload, packet) {
  const m = { topic, payload: payload.toString('utf8'), qos: packet.qos, retain: packet.retain };
  const p = props(packet.properties);
  if (p) m.props = p;
  return m;
}

// open connects one client and resolves when CONNACK accepted it. Received
// messages are collected from the start into client.msgs, so that queued
// messages sent right after CONNACK are not missed.
function open(role, extra = {}) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtt://${addr}`, {
      protocolVersion: version,
      clientId: `js-${scenario}-v${version}-${role}`,
      reconnectPeriod: 0,
      connectTimeout: WAIT_MS,
      keepalive: 30,
      ...extra,
    });
    client.msgs = [];
    client.on('message', (topic, payload, packet) => client.msgs.push(record(topic, payload, packet)));
    client.once('connect', (connack) => resolve({ client, connack }));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

// refused connects expecting a CONNACK refusal and resolves its reason code.
function refused(role, extra) {
  return open(role, extra).then(
    ({ client }) => {
      client.end(true);
      return 0;
    },
    (err) => (typeof err.code === 'number' ? err.code : String(err.message)),
  );
}

// sub subscribes and resolves the SUBACK codes, refused ones included.
function sub(client, topics, opts = { qos: 1 }) {
  return new Promise((resolve, reject) => {
    client.subscribe(topics, opts, (err, _granted, packet) => {
      const p = packet || (err && err.packet);
      if (p && p.granted) resolve(p.granted);
      else reject(err || new Error('no SUBACK'));
    });
  });
}

// waitMsgs resolves a copy of client's messages when it has n of them, or
// after WAIT_MS; with settle it waits SETTLE_MS more first, so that extra
// messages are seen too.
async function waitMsgs(client, n, settle = true) {
  const end = Date.now() + WAIT_MS;
  while (client.msgs.length < n && Date.now() < end) await sleep(5);
  if (settle) await sleep(SETTLE_MS);
  return client.msgs.slice();
}

function close(client) {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}

const byPayload = (a, b) => (a.payload < b.payload ? -1 : a.payload > b.payload ? 1 : 0);

const scenarios = {
  // qos: QoS 0/1/2 through a '+' and a '#' subscription.
  async qos() {
    const pre = `js/qos/v${version}`;
    const plus = (await open('plus')).client;
    const hash = (await open('hash')).client;
    out.grantedPlus = await sub(plus, `${pre}/+/x`, { qos: 2 });
    out.grantedHash = await sub(hash, `${pre}/#`, { qos: 2 });
    const pub = (await open('pub')).client;
    out.acked = 0;
    for (const q of [0, 1, 2]) {
      for (const t of ['a/x', 'b/y', '']) {
        await pub.publishAsync(t ? `${pre}/${t}` : pre, `q${q}:${t}`, { qos: q });
        out.acked++;
      }
    }
    out.plus = (await waitMsgs(plus, 3, false)).sort(byPayload);
    out.hash = (await waitMsgs(hash, 9)).sort(byPayload);
    expect(out.plus.length === 3, `plus got ${out.plus.length} messages, want 3`);
    expect(out.hash.length === 9, `hash got ${out.hash.length} messages, want 9`);
    await Promise.all([close(plus), close(hash), close(pub)]);
  },

  // session: a persistent session keeps its subscription and queues QoS 1
  // messages while the client is away; a clean connect drops it.
  async session() {
    const topic = `js/session/v${version}`;
    const keep = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
    let c = await open('s', keep);
    out.firstSessionPresent = c.connack.sessionPresent;
    out.granted = await sub(c.client, topic, { qos: 1 });
    await close(c.client);
    const pub = (await open('pub')).client;
    for (let i = 0; i < 3; i++) await pub.publishAsync(topic, `queued${i}`, { qos: 1 });
    c = await open('s', keep);
    out.resumedSessionPresent = c.connack.sessionPresent;
    out.queued = await waitMsgs(c.client, 3, false);
    expect(out.queued.length === 3, `queued: got ${out.queued.length}, want 3`);
    // Still subscribed: a live message arrives too.
    await pub.publishAsync(topic, 'live', { qos: 1 });
    out.live = (await waitMsgs(c.client, 4)).slice(3);
    await close(c.client);
    c = await open('s', { clean: true });
    out.cleanSessionPresent = c.connack.sessionPresent;
    await pub.publishAsync(topic, 'after-clean', { qos: 1 });
    out.afterClean = await waitMsgs(c.client, 0);
    await Promise.all([close(c.client), close(pub)]);
  },

  // retained: set, deliver to a new subscriber, forward live, clear.
  async retained() {
    const pre = `js/retained/v${version}`;
    const pub = (await open('pub')).client;
    await pub.publishAsync(`${pre}/a`, 'kept', { qos: 1, retain: true });
    const s1 = (await open('s1')).client;
    await sub(s1, `${pre}/#`, { qos: 1 });
    await waitMsgs(s1, 1, false);
    await pub.publishAsync(`${pre}/a`, 'live', { qos: 1, retain: true });
    await waitMsgs(s1, 2, false);
    await pub.publishAsync(`${pre}/a`, '', { qos: 1, retain: true });
    await waitMsgs(s1, 3, false);
    const s2 = (await open('s2')).client;
    await sub(s2, `${pre}/#`, { qos: 1 });
    out.afterClear = await waitMsgs(s2, 0);
    out.first = s1.msgs.slice(); // after the settle: extras would show
    await Promise.all([close(s1), close(s2), close(pub)]);
  },

  // will: an abrupt close publishes the will, a DISCONNECT does not.
  async will() {
    const pre = `js/will/v${version}`;
    const watcher = (await open('watch')).client;
    await sub(watcher, `${pre}/#`, { qos: 1 });
    const willProps = version === 5 ? { contentType: 'text/plain', userProperties: { why: 'abrupt', n: ['1', '2'] } } : undefined;
    const polite = (await open('polite', { will: { topic: `${pre}/polite`, payload: 'polite', qos: 1 } })).client;
    await close(polite);
    const dying = (
      await open('dying', {
        will: { topic: `${pre}/dying`, payload: 'gone', qos: 1, retain: false, properties: willProps },
      })
    ).client;
    dying.stream.destroy(); // no DISCONNECT: the socket just closes
    out.wills = await waitMsgs(watcher, 1);
    expect(out.wills.length === 1, `wills: got ${out.wills.length}, want 1`);
    dying.end(true);
    await close(watcher);
  },

  // props: v5 request/response with user properties, content type,
  // response topic, correlation data and message expiry.
  async props() {
    const pre = 'js/props';
    const responder = (await open('responder')).client;
    responder.on('message', (topic, payload, packet) => {
      const p = packet.properties || {};
      if (!p.responseTopic) return;
      responder.publish(p.responseTopic, `re:${payload}`, {
        qos: 1,
        properties: { correlationData: p.correlationData, userProperties: { echo: 'yes' }, contentType: p.contentType },
      });
    });
    await sub(responder, `${pre}/req`, { qos: 1 });
    const requester = (await open('requester')).client;
    await sub(requester, `${pre}/resp`, { qos: 1 });
    await requester.publishAsync(`${pre}/req`, '{"q":1}', {
      qos: 1,
      properties: {
        responseTopic: `${pre}/resp`,
        correlationData: Buffer.from('corr-42'),
        userProperties: { a: '1', b: ['x', 'y'] },
        contentType: 'application/json',
        payloadFormatIndicator: true,
        messageExpiryInterval: 60,
      },
    });
    out.request = (await waitMsgs(responder, 1, false))[0];
    out.response = (await waitMsgs(requester, 1))[0];
    expect(out.response !== undefined, 'no response');
    await Promise.all([close(responder), close(requester)]);
  },

  // expiry: of two messages queued for an offline session, the one whose
  // expiry passed is dropped and the other arrives with less time left.
  async expiry() {
    const topic = 'js/expiry';
    const keep = { clean: false, properties: { sessionExpiryInterval: 300 } };
    let s = (await open('s', keep)).client;
    await sub(s, topic, { qos: 1 });
    await close(s);
    const pub = (await open('pub')).client;
    await pub.publishAsync(topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync(topic, 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await sleep(2200);
    s = (await open('s', keep)).client;
    out.received = await waitMsgs(s, 1);
    await Promise.all([close(s), close(pub)]);
  },

  // alias: MQTT.js sends topic aliases (autoUseTopicAlias after an explicit
  // one, autoAssignTopicAlias) and resolves the broker's aliases to it.
  async alias() {
    const pre = 'js/alias';
    const s = (await open('sub', { properties: { topicAliasMaximum: 5 } })).client;
    out.aliasReceived = [];
    s.on('packetreceive', (p) => {
      if (p.cmd === 'publish') out.aliasReceived.push({ topic: p.topic, alias: (p.properties || {}).topicAlias || 0 });
    });
    await sub(s, `${pre}/#`, { qos: 1 });
    const sent = (c) => {
      const list = [];
      c.on('packetsend', (p) => {
        if (p.cmd === 'publish') list.push({ topic: p.topic, alias: (p.properties || {}).topicAlias || 0 });
      });
      return list;
    };
    const use = await open('use', { autoUseTopicAlias: true });
    out.connackAliasMax = (use.connack.properties || {}).topicAliasMaximum || 0;
    out.sentUse = sent(use.client);
    await use.client.publishAsync(`${pre}/use`, 'u0', { qos: 1, properties: { topicAlias: 1 } });
    for (let i = 1; i < 4; i++) await use.client.publishAsync(`${pre}/use`, `u${i}`, { qos: i % 2 });
    const assign = (await open('assign', { autoAssignTopicAlias: true })).client;
    out.sentAssign = sent(assign);
    for (let i = 0; i < 3; i++) await assign.publishAsync(`${pre}/assign`, `a${i}`, { qos: 1 });
    out.messages = (await waitMsgs(s, 7)).map((m) => ({ topic: m.topic, payload: m.payload }));
    expect(out.messages.length === 7, `got ${out.messages.length} messages, want 7`);
    await Promise.all([close(s), close(use.client), close(assign)]);
  },

  // subrefused: a SUBSCRIBE with invalid filters gets failure codes for
  // them only, and the connection keeps working.
  async subrefused() {
    const pre = `js/subrefused/v${version}`;
    const c = (await open('c')).client;
    // MQTT.js checks wildcards itself; these pass its check but not the
    // broker's: no filter after the share name, an empty share name.
    const bad = ['$share/grp', '$share//x'];
    out.granted = await sub(c, [`${pre}/ok`, ...bad], { qos: 1 });
    await c.publishAsync(`${pre}/ok`, 'still-up', { qos: 1 });
    out.after = await waitMsgs(c, 1);
    await close(c);
  },

  // auth: CONNACK codes from a broker that requires USER/PASSWORD.
  async auth() {
    out.badPassword = await refused('bad', { username: USER, password: 'wrong' });
    out.anonymous = await refused('anon', {});
    const good = await open('good', { username: USER, password: PASSWORD });
    out.goodSessionPresent = good.connack.sessionPresent;
    out.good = version === 5 ? good.connack.reasonCode : good.connack.returnCode;
    await close(good.client);
  },

  // shared: two members of $share/g1 split the messages, a plain
  // subscriber gets them all.
  async shared() {
    const topic = `js/shared/v${version}/t`;
    const m1 = (await open('m1')).client;
    const m2 = (await open('m2')).client;
    const all = (await open('all')).client;
    out.granted = [
      ...(await sub(m1, `$share/g1/${topic}`, { qos: 1 })),
      ...(await sub(m2, `$share/g1/${topic}`, { qos: 1 })),
      ...(await sub(all, topic, { qos: 1 })),
    ];
    const pub = (await open('pub')).client;
    for (let i = 0; i < 10; i++) await pub.publishAsync(topic, `m${String(i).padStart(2, '0')}`, { qos: 1 });
    await waitMsgs(all, 10, false);
    const end = Date.now() + WAIT_MS;
    while (m1.msgs.length + m2.msgs.length < 10 && Date.now() < end) await sleep(10);
    await sleep(SETTLE_MS);
    out.m1 = m1.msgs.map((m) => m.payload);
    out.m2 = m2.msgs.map((m) => m.payload);
    out.all = all.msgs.map((m) => m.payload);
    await Promise.all([close(m1), close(m2), close(all), close(pub)]);
  },
};

async function main() {
  const run = scenarios[scenario];
  if (!addr || !run || (version !== 4 && version !== 5)) {
    process.stderr.write(`usage: scenarios.js <host:port> <${Object.keys(scenarios).join('|')}> <4|5>\n`);
    process.exit(2);
  }
  const timer = setTimeout(() => {
    out.error = `timeout after ${TOTAL_MS} ms`;
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(2);
  }, TOTAL_MS);
  try {
    await run();
  } catch (err) {
    out.error = String((err && err.stack) || err);
  }
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(out.error ? 2 : failures.length ? 1 : 0);
}

main();
