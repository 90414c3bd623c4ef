//go:build goolm

package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// encryptedRooms is the crypto state store of a test client: the rooms it
// knows to be encrypted and their members, learnt from sync.
type encryptedRooms struct {
	mu      sync.Mutex
	rooms   map[id.RoomID]*event.EncryptionEventContent
	members map[id.RoomID]map[id.UserID]bool
}

func (s *encryptedRooms) IsEncrypted(_ context.Context, room id.RoomID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[room] != nil, nil
}

func (s *encryptedRooms) GetEncryptionEvent(_ context.Context, room id.RoomID) (*event.EncryptionEventContent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[room], nil
}

func (s *encryptedRooms) GetHistoryVisibility(context.Context, id.RoomID) (*event.HistoryVisibilityEventContent, error) {
	return &event.HistoryVisibilityEventContent{HistoryVisibility: event.HistoryVisibilityShared}, nil
}

func (s *encryptedRooms) FindSharedRooms(_ context.Context, user id.UserID) ([]id.RoomID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []id.RoomID
	for room := range s.rooms {
		if s.members[room][user] {
			out = append(out, room)
		}
	}
	return out, nil
}

// joined returns the joined and invited members of the room.
func (s *encryptedRooms) joined(room id.RoomID) []id.UserID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []id.UserID
	for u, in := range s.members[room] {
		if in {
			out = append(out, u)
		}
	}
	return out
}

// learn records encryption and membership state from a sync response.
func (s *encryptedRooms) learn(resp *mautrix.RespSync) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for room, joined := range resp.Rooms.Join {
		for _, evt := range append(slices.Clone(joined.State.Events), joined.Timeline.Events...) {
			_ = evt.Content.ParseRaw(evt.Type)
			switch evt.Type {
			case event.StateEncryption:
				s.rooms[room] = evt.Content.AsEncryption()
			case event.StateMember:
				if s.members[room] == nil {
					s.members[room] = map[id.UserID]bool{}
				}
				m := evt.Content.AsMember().Membership
				s.members[room][id.UserID(evt.GetStateKey())] = m == event.MembershipJoin || m == event.MembershipInvite
			}
		}
	}
}

// e2eeClient is a mautrix-go client with a real Olm account (goolm) whose
// syncs feed its OlmMachine, as a bot built on mautrix does.
type e2eeClient struct {
	*mautrix.Client
	mach  *crypto.OlmMachine
	state *encryptedRooms
	since string
}

// mustE2EEClient loads a fresh Olm account for the logged-in client and
// uploads its device keys and one-time keys.
func mustE2EEClient(t *testing.T, cli *mautrix.Client) *e2eeClient {
	t.Helper()
	ctx := context.Background()
	state := &encryptedRooms{rooms: map[id.RoomID]*event.EncryptionEventContent{}, members: map[id.RoomID]map[id.UserID]bool{}}
	mach := crypto.NewOlmMachine(cli, nil, crypto.NewMemoryStore(nil), state)
	if err := mach.Load(ctx); err != nil {
		t.Fatalf("load olm account: %v", err)
	}
	if err := mach.ShareKeys(ctx, -1); err != nil {
		t.Fatalf("upload keys of %s/%s: %v", cli.UserID, cli.DeviceID, err)
	}
	t.Cleanup(mach.Destroy)
	return &e2eeClient{Client: cli, mach: mach, state: state}
}

// sync runs one incremental sync and hands it to the crypto machine.
func (c *e2eeClient) sync(t *testing.T) *mautrix.RespSync {
	t.Helper()
	resp := mustSync(t, c.Client, c.since, 0, "")
	c.state.learn(resp)
	c.mach.ProcessSyncResponse(context.Background(), resp, c.since)
	c.since = resp.NextBatch
	return resp
}

// send encrypts a text message for the room's members and sends it.
func (c *e2eeClient) send(t *testing.T, room id.RoomID, body string) {
	t.Helper()
	ctx := context.Background()
	if err := c.mach.ShareGroupSession(ctx, room, c.state.joined(room)); err != nil {
		t.Fatalf("%s shares the megolm session: %v", c.UserID, err)
	}
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: body}
	encrypted, err := c.mach.EncryptMegolmEvent(ctx, room, event.EventMessage, content)
	if err != nil {
		t.Fatalf("%s encrypts: %v", c.UserID, err)
	}
	if _, err := c.SendMessageEvent(ctx, room, event.EventEncrypted, encrypted); err != nil {
		t.Fatalf("%s sends: %v", c.UserID, err)
	}
}

// receive syncs and decrypts the encrypted messages of the room.
func (c *e2eeClient) receive(t *testing.T, room id.RoomID) []string {
	t.Helper()
	resp := c.sync(t)
	var bodies []string
	for _, evt := range resp.Rooms.Join[room].Timeline.Events {
		if evt.Type != event.EventEncrypted {
			continue
		}
		evt.RoomID = room
		if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
			t.Fatalf("parse encrypted event: %v", err)
		}
		plain, err := c.mach.DecryptMegolmEvent(context.Background(), evt)
		if err != nil {
			t.Fatalf("%s decrypts %s from %s: %v", c.UserID, evt.ID, evt.Sender, err)
		}
		_ = plain.Content.ParseRaw(plain.Type)
		bodies = append(bodies, plain.Content.AsMessage().Body)
	}
	return bodies
}

// TestE2EE: two mautrix-go clients with real Olm and Megolm sessions
// exchange encrypted messages through the server, which only relays keys
// and ciphertext; a new device of bob reaches alice's device list.
func TestE2EE(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		alice := mustE2EEClient(t, mustRegister(t, srv.URL, "alice", "alice password"))
		bob := mustE2EEClient(t, mustRegister(t, srv.URL, "bob", "bob password"))

		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Preset: "private_chat", Invite: []id.UserID{bob.UserID},
			InitialState: []*event.Event{{Type: event.StateEncryption, Content: event.Content{
				Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1},
			}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bob.JoinRoomByID(ctx, room.RoomID); err != nil {
			t.Fatal(err)
		}
		alice.sync(t)
		bob.sync(t)

		alice.send(t, room.RoomID, "the crane arrives at seven")
		if got := bob.receive(t, room.RoomID); !slices.Equal(got, []string{"the crane arrives at seven"}) {
			t.Fatalf("bob decrypts: got %q, want alice's message", got)
		}
		bob.send(t, room.RoomID, "I will open the gate")
		// alice's timeline also holds her own message, which she can read too.
		if got := alice.receive(t, room.RoomID); !slices.Equal(got, []string{"the crane arrives at seven", "I will open the gate"}) {
			t.Fatalf("alice decrypts: got %q, want her message and bob's reply", got)
		}

		t.Run("CrossSigning", func(t *testing.T) {
			// alice publishes cross-signing keys (the first need no
			// auth) and signs her device; bob signs alice's master key.
			// bob's client then trusts alice's device through both
			// signatures, which it read back from the server.
			for _, c := range []*e2eeClient{alice, bob} {
				keys, err := c.mach.GenerateCrossSigningKeys()
				if err != nil {
					t.Fatal(err)
				}
				if err := c.mach.PublishCrossSigningKeys(ctx, keys, nil); err != nil {
					t.Fatalf("publish %s's cross-signing keys: %v", c.UserID, err)
				}
				c.mach.CrossSigningKeys = keys
			}
			if err := alice.mach.SignOwnDevice(ctx, alice.mach.OwnIdentity()); err != nil {
				t.Fatalf("alice signs her device: %v", err)
			}
			if err := alice.mach.SignOwnMasterKey(ctx); err != nil {
				t.Fatalf("alice signs her master key with her device: %v", err)
			}
			if err := bob.mach.SignUser(ctx, alice.UserID, alice.mach.CrossSigningKeys.MasterKey.PublicKey()); err != nil {
				t.Fatalf("bob signs alice's master key: %v", err)
			}
			fresh := mustE2EEClient(t, mustLogin(t, srv.URL, "bob", "bob password", "laptop"))
			fresh.mach.CrossSigningKeys = bob.mach.CrossSigningKeys
			devices, err := fresh.mach.FetchKeys(ctx, []id.UserID{alice.UserID, bob.UserID}, true)
			if err != nil || devices[alice.UserID][alice.DeviceID] == nil {
				t.Fatalf("bob's laptop fetches alice's keys: got %v (%v), want her device", devices, err)
			}
			trust, err := fresh.mach.ResolveTrustContext(ctx, devices[alice.UserID][alice.DeviceID])
			if err != nil || trust != id.TrustStateCrossSignedVerified {
				t.Errorf("bob's laptop's trust in alice's device: got %s (%v), want %s", trust, err, id.TrustStateCrossSignedVerified)
			}
		})

		t.Run("NewDevice", func(t *testing.T) {
			phone := mustE2EEClient(t, mustLogin(t, srv.URL, "bob", "bob password", "phone"))
			resp := alice.sync(t)
			if !slices.Contains(resp.DeviceLists.Changed, bob.UserID) {
				t.Fatalf("alice's device_lists.changed: got %v, want %s", resp.DeviceLists.Changed, bob.UserID)
			}
			devices, err := alice.mach.CryptoStore.GetDevices(ctx, bob.UserID)
			if err != nil || devices[phone.DeviceID] == nil {
				t.Fatalf("alice's view of bob's devices: got %v (%v), want the phone", devices, err)
			}
			phone.sync(t)
			alice.send(t, room.RoomID, "both of you")
			for _, dev := range []*e2eeClient{bob, phone} {
				if got := dev.receive(t, room.RoomID); !slices.Contains(got, "both of you") {
					t.Errorf("%s decrypts: got %q, want alice's message", dev.DeviceID, got)
				}
			}
		})
	})
}
