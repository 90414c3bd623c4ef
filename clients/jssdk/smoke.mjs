// A smoke test with matrix-js-sdk: two users, a room, sync v2 long-polls,
// a message with characters JSON must escape, unread counts and their
// reset by a read receipt, typing, and a thread reply. HS is the server's
// base URL; registration must be open. Exits non-zero on the first failure.
import * as sdk from "matrix-js-sdk";

const base = process.env.HS;
if (!base) {
  console.error("HS (the homeserver's base URL) is not set");
  process.exit(2);
}
const log = (...a) => console.log(new Date().toISOString().slice(11, 23), ...a);
const fail = (m) => { console.error("FAIL:", m); process.exit(1); };

async function register(user) {
  const url = `${base}/_matrix/client/v3/register`;
  let r = await fetch(url, { method: "POST", body: JSON.stringify({ username: user, password: "password-" + user }) });
  let body = await r.json();
  if (r.status === 401) {
    r = await fetch(url, { method: "POST", body: JSON.stringify({ username: user, password: "password-" + user, auth: { type: "m.login.dummy", session: body.session } }) });
    body = await r.json();
  }
  if (!body.access_token) fail("register " + user + ": " + JSON.stringify(body));
  return body;
}

function waitFor(pred, what, ms = 10000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      let v; try { v = pred(); } catch (e) { return reject(e); }
      if (v) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error("timed out waiting for " + what));
      setTimeout(tick, 50);
    };
    tick();
  });
}

const a = await register("alice");
const b = await register("bob");
const quiet = { debug() {}, info() {}, log() {}, trace() {}, warn: console.warn, error: console.error, getChild() { return quiet; } };
const mk = (cred) => sdk.createClient({ baseUrl: base, accessToken: cred.access_token, userId: cred.user_id,
  deviceId: cred.device_id, logger: quiet });
const alice = mk(a), bob = mk(b);
const room = await alice.createRoom({ preset: "public_chat", name: "js-sdk smoke" });
await bob.joinRoom(room.room_id);
log("room", room.room_id);

for (const c of [alice, bob]) c.startClient({ initialSyncLimit: 10 });
await waitFor(() => alice.isInitialSyncComplete() && bob.isInitialSyncComplete(), "initial syncs");
log("initial syncs done");

const got = [];
bob.on(sdk.RoomEvent.Timeline, (ev, r) => { if (r?.roomId === room.room_id && ev.getType() === "m.room.message") got.push(ev); });
const sentAt = Date.now();
const sent = await alice.sendTextMessage(room.room_id, "hello from js-sdk <b>&</b> \u2028 é");
await waitFor(() => got.find((e) => e.getId() === sent.event_id), "bob receiving alice's message");
log("bob got the message after", Date.now() - sentAt, "ms");
const ev = got.find((e) => e.getId() === sent.event_id);
if (ev.getContent().body !== "hello from js-sdk <b>&</b> \u2028 é") fail("body mangled: " + JSON.stringify(ev.getContent().body));

const bobRoom = bob.getRoom(room.room_id);
await waitFor(() => bobRoom.getUnreadNotificationCount(sdk.NotificationCountType.Total) >= 1, "bob's unread count");
log("bob unread", bobRoom.getUnreadNotificationCount(sdk.NotificationCountType.Total));
if (bobRoom.name !== "js-sdk smoke") fail("room name " + bobRoom.name);

await bob.sendReadReceipt(ev);
await waitFor(() => bobRoom.getUnreadNotificationCount(sdk.NotificationCountType.Total) === 0, "bob's unread count reset by his receipt");
log("bob unread after receipt 0");
const aliceRoom = alice.getRoom(room.room_id);
await waitFor(() => aliceRoom.getUsersReadUpTo(ev).includes(b.user_id), "alice seeing bob's receipt");
log("alice sees bob's receipt");

await bob.sendTyping(room.room_id, true, 10000);
await waitFor(() => aliceRoom.getMember(b.user_id)?.typing, "alice seeing bob typing");
log("alice sees bob typing");

// a thread reply
const reply = await bob.sendMessage(room.room_id, sent.event_id, { msgtype: "m.text", body: "in thread", "m.relates_to": { rel_type: "m.thread", event_id: sent.event_id } });
await waitFor(() => aliceRoom.findEventById(reply.event_id) || aliceRoom.getThread(sent.event_id)?.findEventById?.(reply.event_id), "alice receiving the thread reply");
log("alice got the thread reply");

for (const c of [alice, bob]) c.stopClient();
console.log("OK");
process.exit(0);
