#!/usr/bin/env node
// MQTT.js scenarios against running brokers, driven by
// engine/interop_mqttjs_test.go.
//
//   node scenarios.js <host:port> <auth host:port> <scenario>/<3|4|5>...
//
// An address may be a URL instead (ws://host:port/mqtt, wss://...): the
// clients then speak MQTT over WebSocket (MQTT.js uses the ws package,
// which offers permessage-deflate).
//
// Runs the named scenarios concurrently (they use distinct topics and client
// ids), each with MQTT protocol version 3 (3.1), 4 (3.1.1) or 5; the auth scenario talks to
// the second broker, which requires USER/PASSWORD, the others to the first.
// Prints one JSON line on stdout: an object keyed "<scenario>/<version>"
// whose values hold what the clients saw (CONNACK flags and reason codes,
// granted QoS, received messages with their properties) plus "failures",
// the checks this program makes itself, and "error" for an exception or a
// timeout. Exit status 0 when every scenario passed, 1 when a check failed,
// 2 on an exception, the overall timeout or bad usage. The Go test asserts
// on the JSON too, so both sides check.
'use strict';

const mqtt = require('mqtt');

const WAIT_MS = 5000; // for one expected event
const SETTLE_MS = 250; // for "nothing more arrives" checks
const TOTAL_MS = 15000; // all scenarios

// A user of the Go test's password file (startAuthBroker).
const USER = 'alice';
const PASSWORD = 's3cret';

// GUST_CA names the PEM CA file that signed the broker's certificate, for
// wss:// and mqtts:// addresses.
const CA = process.env.GUST_CA ? require('fs').readFileSync(process.env.GUST_CA) : undefined;

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

// Run is one scenario run: its broker address, protocol version and
// output, with the helpers the scenarios use.
class Run {
  constructor(addr, scenario, version) {
    this.addr = addr;
    this.scenario = scenario;
    this.version = version;
    this.out = { failures: [] };
  }

  // expect records a failed check.
  expect(ok, what) {
    if (!ok) this.out.failures.push(what);
  }

  // open connects one client and resolves when CONNACK accepted it.
  // Received messages are collected from the start into client.msgs, so
  // that queued messages sent right after CONNACK are not missed.
  open(role, extra = {}) {
    return new Promise((resolve, reject) => {
      const url = this.addr.includes('://') ? this.addr : `mqtt://${this.addr}`;
      const client = mqtt.connect(url, {
        ...(CA ? { ca: CA } : {}),
        protocolVersion: this.version,
        clientId: `js-${this.scenario}-v${this.version}-${role}`,
        reconnectPeriod: 0,
        connectTimeout: WAIT_MS,
        keepalive: 30,
        ...(this.version === 3 ? { protocolId: 'MQIsdp' } : {}),
        ...extra,
      });
      client.msgs = [];
      client.on('message', (topic, payload, packet) => client.msgs.push(record(topic, payload, packet)));
      const onClose = () => reject(new Error(`${role}: connection closed before CONNACK`));
      client.once('close', onClose);
      client.once('connect', (connack) => {
        client.removeListener('close', onClose);
        resolve({ client, connack });
      });
      client.once('error', (err) => {
        client.end(true);
        reject(err);
      });
    });
  }

  // refused connects expecting a CONNACK refusal and resolves its reason
  // code (0 if the client was accepted, -1 on an error without a code).
  refused(role, extra) {
    return this.open(role, extra).then(
      ({ client }) => {
        client.end(true);
        return 0;
      },
      (err) => (typeof err.code === 'number' ? err.code : -1),
    );
  }
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

// publish resolves when client's PUBLISH is sent (QoS 0) or acknowledged,
// and rejects if the broker closes the connection first (MQTT.js would
// otherwise wait for a reconnection that is switched off).
function publish(client, topic, payload, opts) {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error(`${client.options.clientId}: connection closed while publishing to ${topic}`));
    client.once('close', onClose);
    client.publish(topic, payload, opts, (err) => {
      client.removeListener('close', onClose);
      if (err) reject(err);
      else resolve();
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
  async qos(r) {
    const pre = `js/qos/v${r.version}`;
    const plus = (await r.open('plus')).client;
    const hash = (await r.open('hash')).client;
    r.out.grantedPlus = await sub(plus, `${pre}/+/x`, { qos: 2 });
    r.out.grantedHash = await sub(hash, `${pre}/#`, { qos: 2 });
    const pub = (await r.open('pub')).client;
    r.out.acked = 0;
    for (const q of [0, 1, 2]) {
      for (const t of ['a/x', 'b/y', '']) {
        await publish(pub, t ? `${pre}/${t}` : pre, `q${q}:${t}`, { qos: q });
        r.out.acked++;
      }
    }
    r.out.plus = (await waitMsgs(plus, 3, false)).sort(byPayload);
    r.out.hash = (await waitMsgs(hash, 9)).sort(byPayload);
    r.expect(r.out.plus.length === 3, `plus got ${r.out.plus.length} messages, want 3`);
    r.expect(r.out.hash.length === 9, `hash got ${r.out.hash.length} messages, want 9`);
    await Promise.all([close(plus), close(hash), close(pub)]);
  },

  // session: a persistent session keeps its subscription and queues QoS 1
  // messages while the client is away; a clean connect drops it.
  async session(r) {
    const topic = `js/session/v${r.version}`;
    const keep = r.version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
    let c = await r.open('s', keep);
    r.out.firstSessionPresent = c.connack.sessionPresent;
    r.out.granted = await sub(c.client, topic, { qos: 1 });
    await close(c.client);
    const pub = (await r.open('pub')).client;
    for (let i = 0; i < 3; i++) await publish(pub, topic, `queued${i}`, { qos: 1 });
    c = await r.open('s', keep);
    r.out.resumedSessionPresent = c.connack.sessionPresent;
    r.out.queued = await waitMsgs(c.client, 3, false);
    r.expect(r.out.queued.length === 3, `queued: got ${r.out.queued.length}, want 3`);
    // Still subscribed: a live message arrives too.
    await publish(pub, topic, 'live', { qos: 1 });
    r.out.live = (await waitMsgs(c.client, 4)).slice(3);
    await close(c.client);
    c = await r.open('s', { clean: true });
    r.out.cleanSessionPresent = c.connack.sessionPresent;
    await publish(pub, topic, 'after-clean', { qos: 1 });
    r.out.afterClean = await waitMsgs(c.client, 0);
    await Promise.all([close(c.client), close(pub)]);
  },

  // retained: set, deliver to a new subscriber, forward live, clear.
  async retained(r) {
    const pre = `js/retained/v${r.version}`;
    const pub = (await r.open('pub')).client;
    await publish(pub, `${pre}/a`, 'kept', { qos: 1, retain: true });
    const s1 = (await r.open('s1')).client;
    await sub(s1, `${pre}/#`, { qos: 1 });
    await waitMsgs(s1, 1, false);
    await publish(pub, `${pre}/a`, 'live', { qos: 1, retain: true });
    await waitMsgs(s1, 2, false);
    await publish(pub, `${pre}/a`, '', { qos: 1, retain: true });
    await waitMsgs(s1, 3, false);
    const s2 = (await r.open('s2')).client;
    await sub(s2, `${pre}/#`, { qos: 1 });
    r.out.afterClear = await waitMsgs(s2, 0);
    r.out.first = s1.msgs.slice(); // after the settle: extras would show
    await Promise.all([close(s1), close(s2), close(pub)]);
  },

  // will: an abrupt close publishes the will, a DISCONNECT does not.
  async will(r) {
    const pre = `js/will/v${r.version}`;
    const watcher = (await r.open('watch')).client;
    await sub(watcher, `${pre}/#`, { qos: 1 });
    const willProps = r.version === 5 ? { contentType: 'text/plain', userProperties: { why: 'abrupt', n: ['1', '2'] } } : undefined;
    const polite = (await r.open('polite', { will: { topic: `${pre}/polite`, payload: 'polite', qos: 1 } })).client;
    await close(polite);
    const dying = (
      await r.open('dying', {
        will: { topic: `${pre}/dying`, payload: 'gone', qos: 1, retain: false, properties: willProps },
      })
    ).client;
    dying.stream.destroy(); // no DISCONNECT: the socket just closes
    r.out.wills = await waitMsgs(watcher, 1);
    r.expect(r.out.wills.length === 1, `wills: got ${r.out.wills.length}, want 1`);
    dying.end(true);
    await close(watcher);
  },

  // props: v5 request/response with user properties, content type,
  // response topic, correlation data and message expiry.
  async props(r) {
    const pre = 'js/props';
    const responder = (await r.open('responder')).client;
    responder.on('message', (topic, payload, packet) => {
      const p = packet.properties || {};
      if (!p.responseTopic) return;
      responder.publish(p.responseTopic, `re:${payload}`, {
        qos: 1,
        properties: { correlationData: p.correlationData, userProperties: { echo: 'yes' }, contentType: p.contentType },
      });
    });
    await sub(responder, `${pre}/req`, { qos: 1 });
    const requester = (await r.open('requester')).client;
    await sub(requester, `${pre}/resp`, { qos: 1 });
    await publish(requester, `${pre}/req`, '{"q":1}', {
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
    r.out.request = (await waitMsgs(responder, 1, false))[0];
    r.out.response = (await waitMsgs(requester, 1))[0];
    r.expect(r.out.response !== undefined, 'no response');
    await Promise.all([close(responder), close(requester)]);
  },

  // expiry: of two messages queued for an offline session, the one whose
  // expiry passed is dropped and the other arrives with less time left.
  async expiry(r) {
    const topic = 'js/expiry';
    const keep = { clean: false, properties: { sessionExpiryInterval: 300 } };
    let s = (await r.open('s', keep)).client;
    await sub(s, topic, { qos: 1 });
    await close(s);
    const pub = (await r.open('pub')).client;
    await publish(pub, topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await publish(pub, topic, 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await sleep(2200);
    s = (await r.open('s', keep)).client;
    r.out.received = await waitMsgs(s, 1);
    await Promise.all([close(s), close(pub)]);
  },

  // alias: MQTT.js sends topic aliases (autoUseTopicAlias after an explicit
  // one, autoAssignTopicAlias) and resolves the broker's aliases to it.
  async alias(r) {
    const pre = 'js/alias';
    const s = (await r.open('sub', { properties: { topicAliasMaximum: 5 } })).client;
    r.out.aliasReceived = [];
    s.on('packetreceive', (p) => {
      if (p.cmd === 'publish') r.out.aliasReceived.push({ topic: p.topic, alias: (p.properties || {}).topicAlias || 0 });
    });
    await sub(s, `${pre}/#`, { qos: 1 });
    const sent = (c) => {
      const list = [];
      c.on('packetsend', (p) => {
        if (p.cmd === 'publish') list.push({ topic: p.topic, alias: (p.properties || {}).topicAlias || 0 });
      });
      return list;
    };
    const use = await r.open('use', { autoUseTopicAlias: true });
    r.out.connackAliasMax = (use.connack.properties || {}).topicAliasMaximum || 0;
    r.out.sentUse = sent(use.client);
    await publish(use.client, `${pre}/use`, 'u0', { qos: 1, properties: { topicAlias: 1 } });
    for (let i = 1; i < 4; i++) await publish(use.client, `${pre}/use`, `u${i}`, { qos: i % 2 });
    const assign = (await r.open('assign', { autoAssignTopicAlias: true })).client;
    r.out.sentAssign = sent(assign);
    for (let i = 0; i < 3; i++) await publish(assign, `${pre}/assign`, `a${i}`, { qos: 1 });
    r.out.messages = (await waitMsgs(s, 7)).map((m) => ({ topic: m.topic, payload: m.payload }));
    r.expect(r.out.messages.length === 7, `got ${r.out.messages.length} messages, want 7`);
    await Promise.all([close(s), close(use.client), close(assign)]);
  },

  // subrefused: a SUBSCRIBE with invalid filters gets failure codes for
  // them only, and the connection keeps working.
  async subrefused(r) {
    const pre = `js/subrefused/v${r.version}`;
    const c = (await r.open('c')).client;
    // MQTT.js checks wildcards itself; these pass its check but not the
    // broker's: no filter after the share name, an empty share name.
    const bad = ['$share/grp', '$share//x'];
    r.out.granted = await sub(c, [`${pre}/ok`, ...bad], { qos: 1 });
    await publish(c, `${pre}/ok`, 'still-up', { qos: 1 });
    r.out.after = await waitMsgs(c, 1);
    await close(c);
  },

  // auth: CONNACK codes from a broker that requires USER/PASSWORD.
  async auth(r) {
    r.out.badPassword = await r.refused('bad', { username: USER, password: 'wrong' });
    r.out.anonymous = await r.refused('anon', {});
    r.expect(r.out.badPassword !== 0 && r.out.anonymous !== 0, 'refused logins were accepted');
    const good = await r.open('good', { username: USER, password: PASSWORD });
    r.out.goodSessionPresent = good.connack.sessionPresent;
    r.out.good = r.version === 5 ? good.connack.reasonCode : good.connack.returnCode;
    await close(good.client);
  },

  // shared: two members of $share/g1 split the messages, a plain
  // subscriber gets them all.
  async shared(r) {
    const topic = `js/shared/v${r.version}/t`;
    const m1 = (await r.open('m1')).client;
    const m2 = (await r.open('m2')).client;
    const all = (await r.open('all')).client;
    r.out.granted = [
      ...(await sub(m1, `$share/g1/${topic}`, { qos: 1 })),
      ...(await sub(m2, `$share/g1/${topic}`, { qos: 1 })),
      ...(await sub(all, topic, { qos: 1 })),
    ];
    const pub = (await r.open('pub')).client;
    for (let i = 0; i < 10; i++) await publish(pub, topic, `m${String(i).padStart(2, '0')}`, { qos: 1 });
    await waitMsgs(all, 10, false);
    const end = Date.now() + WAIT_MS;
    while (m1.msgs.length + m2.msgs.length < 10 && Date.now() < end) await sleep(10);
    await sleep(SETTLE_MS);
    r.out.m1 = m1.msgs.map((m) => m.payload);
    r.out.m2 = m2.msgs.map((m) => m.payload);
    r.out.all = all.msgs.map((m) => m.payload);
    await Promise.all([close(m1), close(m2), close(all), close(pub)]);
  },
};

// More scenarios: keep alive, takeover, unsubscribe, large payloads, v5
// subscription options and Maximum Packet Size.
Object.assign(scenarios, {
  // keepalive: with Keep Alive 2 s, MQTT.js pings and the broker answers,
  // so an idle client stays connected past the broker's 3 s limit.
  async keepalive(r) {
    const c = await r.open('c', { keepalive: 2 });
    r.out.serverKeepAlive = (c.connack.properties || {}).serverKeepAlive || 0;
    r.out.pingresps = 0;
    c.client.on('packetreceive', (p) => {
      if (p.cmd === 'pingresp') r.out.pingresps++;
    });
    await sleep(3300);
    r.out.connected = c.client.connected;
    await close(c.client);
  },

  // takeover: a second connection with the same client id closes the
  // first one (v5: DISCONNECT 0x8E first).
  async takeover(r) {
    const first = (await r.open('dup')).client;
    r.out.firstDisconnect = -1;
    first.on('disconnect', (p) => (r.out.firstDisconnect = p.reasonCode || 0));
    let closed = false;
    first.on('close', () => (closed = true));
    const second = (await r.open('dup')).client;
    const end = Date.now() + WAIT_MS;
    while (!closed && Date.now() < end) await sleep(5);
    r.out.firstClosed = closed;
    r.out.secondConnected = second.connected;
    first.end(true);
    await close(second);
  },

  // unsub: UNSUBSCRIBE of a held filter and an unknown one; only the held
  // one is removed and its messages stop.
  async unsub(r) {
    const pre = `js/unsub/v${r.version}`;
    const c = (await r.open('c')).client;
    await sub(c, [`${pre}/a`, `${pre}/b`], { qos: 1 });
    const ack = await new Promise((resolve, reject) =>
      c.unsubscribe([`${pre}/a`, `${pre}/none`], (err, packet) => (err ? reject(err) : resolve(packet || {}))),
    );
    r.out.unsuback = ack.granted || [];
    await publish(c, `${pre}/a`, 'gone', { qos: 1 });
    await publish(c, `${pre}/b`, 'kept', { qos: 1 });
    r.out.after = await waitMsgs(c, 1);
    await close(c);
  },

  // large: 300 kB payloads at QoS 0 and 1 arrive intact (split over many
  // TCP reads both ways).
  async large(r) {
    const pre = `js/large/v${r.version}`;
    const s = (await r.open('s')).client;
    await sub(s, `${pre}/#`, { qos: 1 });
    const got = {};
    s.on('message', (topic, payload) => (got[topic.slice(pre.length + 1)] = payload));
    const pub = (await r.open('pub')).client;
    const big = Buffer.alloc(300000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
    const sent = { q0: big.subarray(0, 200000), q1: big };
    await publish(pub, `${pre}/q0`, sent.q0, { qos: 0 });
    await publish(pub, `${pre}/q1`, sent.q1, { qos: 1 });
    const end = Date.now() + WAIT_MS;
    while (Object.keys(got).length < 2 && Date.now() < end) await sleep(5);
    r.out.sizes = {};
    for (const k of Object.keys(sent)) {
      r.out.sizes[k] = got[k] ? got[k].length : -1;
      r.expect(got[k] && Buffer.compare(got[k], sent[k]) === 0, `${k}: payload differs`);
    }
    await Promise.all([close(s), close(pub)]);
  },

  // subopts: v5 No Local, Retain As Published, Retain Handling 2 and a
  // Subscription Identifier, each on its own client.
  async subopts(r) {
    const pre = 'js/subopts';
    const pub = (await r.open('pub')).client;
    await publish(pub, `${pre}/r`, 'kept', { qos: 1, retain: true });
    const nl = (await r.open('nl')).client;
    await sub(nl, `${pre}/nl`, { qos: 1, nl: true });
    const rap = (await r.open('rap')).client;
    await sub(rap, `${pre}/r`, { qos: 1, rap: true });
    const rh2 = (await r.open('rh2')).client;
    await sub(rh2, `${pre}/r`, { qos: 1, rh: 2 });
    const id = (await r.open('id')).client;
    await sub(id, `${pre}/id`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await publish(nl, `${pre}/nl`, 'own', { qos: 1 });
    await publish(pub, `${pre}/nl`, 'other', { qos: 1 });
    await publish(pub, `${pre}/r`, 'live', { qos: 1, retain: true });
    await publish(pub, `${pre}/id`, 'tagged', { qos: 1 });
    r.out.nl = await waitMsgs(nl, 1, false);
    r.out.rap = await waitMsgs(rap, 2, false);
    r.out.rh2 = await waitMsgs(rh2, 1, false);
    r.out.id = await waitMsgs(id, 1);
    r.out.nl = nl.msgs.slice(); // after the settle
    r.out.rh2 = rh2.msgs.slice();
    await Promise.all([close(pub), close(nl), close(rap), close(rh2), close(id)]);
  },

  // maxpacket: a v5 client with Maximum Packet Size 200 is not sent a
  // larger PUBLISH, stays connected and gets the next small one.
  async maxpacket(r) {
    const topic = 'js/maxpacket';
    const small = (await r.open('small', { properties: { maximumPacketSize: 200 } })).client;
    await sub(small, topic, { qos: 1 });
    const pub = (await r.open('pub')).client;
    await publish(pub, topic, 'x'.repeat(1000), { qos: 1 });
    await publish(pub, topic, 'fits', { qos: 1 });
    r.out.received = await waitMsgs(small, 1);
    r.out.connected = small.connected;
    await Promise.all([close(small), close(pub)]);
  },

  // emptyid: an empty client id with a clean session is accepted, and in
  // v5 the broker assigns one; a PUBLISH to a topic with a wildcard then
  // closes the connection (v5: DISCONNECT 0x90 first).
  async emptyid(r) {
    const c = await r.open('unused', { clientId: '', clean: true });
    r.out.assigned = (c.connack.properties || {}).assignedClientIdentifier || '';
    r.out.disconnect = -1;
    c.client.on('disconnect', (p) => (r.out.disconnect = p.reasonCode || 0));
    let closed = false;
    c.client.on('close', () => (closed = true));
    c.client.publish('js/emptyid/+/bad', 'x', { qos: 1 });
    const end = Date.now() + WAIT_MS;
    while (!closed && Date.now() < end) await sleep(5);
    r.out.closed = closed;
    c.client.end(true);
  },

  // willdelay: a v5 will with a 1 s Will Delay Interval is published about
  // 1 s after the abrupt close; one with 5 s is not published when the
  // client reconnects in time.
  async willdelay(r) {
    const pre = 'js/willdelay';
    const watcher = (await r.open('watch')).client;
    await sub(watcher, `${pre}/#`, { qos: 1 });
    const keep = { clean: false, properties: { sessionExpiryInterval: 60 } };
    const will = (t, delay) => ({ topic: `${pre}/${t}`, payload: t, qos: 1, properties: { willDelayInterval: delay } });
    const a = (await r.open('a', { ...keep, will: will('a', 1) })).client;
    const b = (await r.open('b', { ...keep, will: will('b', 5) })).client;
    const start = Date.now();
    a.stream.destroy();
    b.stream.destroy();
    let arrived = 0;
    watcher.on('message', () => arrived || (arrived = Date.now()));
    await sleep(300);
    const back = (await r.open('b', { ...keep, will: will('b', 5) })).client;
    r.out.wills = await waitMsgs(watcher, 1);
    r.out.delayMs = arrived ? arrived - start : -1;
    a.end(true);
    b.end(true);
    await Promise.all([close(back), close(watcher)]);
  },
});

async function main() {
  const [addr, authAddr, ...specs] = process.argv.slice(2);
  const runs = specs.map((spec) => {
    const [name, v] = spec.split('/');
    return new Run(name === 'auth' ? authAddr : addr, name, Number(v));
  });
  if (!authAddr || runs.length === 0 || runs.some((r) => !scenarios[r.scenario] || ![3, 4, 5].includes(r.version))) {
    process.stderr.write(`usage: scenarios.js <host:port> <auth host:port> <${Object.keys(scenarios).join('|')}>/<3|4|5>...\n`);
    process.exit(2);
  }
  const result = {};
  for (const r of runs) result[`${r.scenario}/${r.version}`] = r.out;
  const finish = () => {
    process.stdout.write(JSON.stringify(result) + '\n');
    const error = runs.some((r) => r.out.error);
    process.exit(error ? 2 : runs.some((r) => r.out.failures.length) ? 1 : 0);
  };
  setTimeout(() => {
    for (const r of runs) if (!r.done) r.out.error = `timeout after ${TOTAL_MS} ms`;
    finish();
  }, TOTAL_MS); // not unref'd: a scenario stuck with no socket left must still end in a report
  await Promise.all(
    runs.map(async (r) => {
      const start = Date.now();
      try {
        await scenarios[r.scenario](r);
      } catch (err) {
        r.out.error = String((err && err.stack) || err);
      }
      r.out.ms = Date.now() - start;
      r.done = true;
    }),
  );
  finish();
}

main();
