package main

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

func mustClient(t testing.TB, baseURL string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(baseURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

func mustRegister(t testing.TB, baseURL, user, password string) *mautrix.Client {
	t.Helper()
	cli := mustClient(t, baseURL)
	resp, err := cli.RegisterDummy(context.Background(), &mautrix.ReqRegister[any]{Username: user, Password: password})
	if err != nil {
		t.Fatalf("register %s: %v", user, err)
	}
	cli.UserID, cli.AccessToken = resp.UserID, resp.AccessToken
	cli.DeviceID = resp.DeviceID
	return cli
}

// mustRegisterAll registers an account per name, each with the password
// "NAME password", and returns their clients in the order of names.
func mustRegisterAll(t testing.TB, baseURL string, names ...string) []*mautrix.Client {
	t.Helper()
	clients := make([]*mautrix.Client, len(names))
	for i, name := range names {
		clients[i] = mustRegister(t, baseURL, name, name+" password")
	}
	return clients
}

func mustLogin(t *testing.T, baseURL, user, password, deviceName string) *mautrix.Client {
	t.Helper()
	cli := mustClient(t, baseURL)
	_, err := cli.Login(context.Background(), &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user},
		Password:                 password,
		InitialDeviceDisplayName: deviceName,
		StoreCredentials:         true,
	})
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return cli
}

func deviceIDs(t *testing.T, cli *mautrix.Client) []id.DeviceID {
	t.Helper()
	resp, err := cli.GetDevicesInfo(context.Background())
	if err != nil {
		t.Fatalf("list devices: %v", err)
	}
	var ids []id.DeviceID
	for _, d := range resp.Devices {
		ids = append(ids, d.DeviceID)
	}
	slices.Sort(ids)
	return ids
}

// TestAccountLifecycle walks what a user does with Element on day one,
// through mautrix-go: register, see devices, set a display name, log out,
// log in on two devices, delete the first with the password.
func TestAccountLifecycle(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		const password = "correct horse battery"

		alice := mustRegister(t, srv.URL, "alice", password)
		if alice.UserID != "@alice:test.local" {
			t.Fatalf("got user id %s, want @alice:test.local", alice.UserID)
		}
		who, err := alice.Whoami(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if who.DeviceID != alice.DeviceID {
			t.Errorf("whoami: got device %s, want %s", who.DeviceID, alice.DeviceID)
		}
		if got := deviceIDs(t, alice); !slices.Equal(got, []id.DeviceID{alice.DeviceID}) {
			t.Errorf("devices after register: got %v, want [%s]", got, alice.DeviceID)
		}

		if err := alice.SetDisplayName(ctx, "Alice Liddell"); err != nil {
			t.Fatalf("set display name: %v", err)
		}
		name, err := mustClient(t, srv.URL).GetDisplayName(ctx, alice.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if name.DisplayName != "Alice Liddell" {
			t.Errorf("display name: got %q, want %q", name.DisplayName, "Alice Liddell")
		}

		if _, err := alice.Logout(ctx); err != nil {
			t.Fatalf("logout: %v", err)
		}
		if _, err := alice.Whoami(ctx); !errors.Is(err, mautrix.MUnknownToken) {
			t.Fatalf("whoami after logout: got %v, want M_UNKNOWN_TOKEN", err)
		}

		phone := mustLogin(t, srv.URL, "alice", password, "phone")
		laptop := mustLogin(t, srv.URL, "@alice:test.local", password, "laptop")
		want := []id.DeviceID{phone.DeviceID, laptop.DeviceID}
		slices.Sort(want)
		if got := deviceIDs(t, laptop); !slices.Equal(got, want) {
			t.Fatalf("devices after two logins: got %v, want %v", got, want)
		}
		info, err := laptop.GetDeviceInfo(ctx, phone.DeviceID)
		if err != nil {
			t.Fatal(err)
		}
		if info.DisplayName != "phone" {
			t.Errorf("device name: got %q, want phone", info.DisplayName)
		}

		body, err := laptop.MakeRequest(ctx, "DELETE", laptop.BuildClientURL("v3", "devices", phone.DeviceID), struct{}{}, nil)
		var httpErr mautrix.HTTPError
		if !errors.As(err, &httpErr) || !httpErr.IsStatus(401) {
			t.Fatalf("delete without auth: got %v, want a 401 UIA challenge", err)
		}
		var uia struct {
			Session string `json:"session"`
		}
		if err := json.Unmarshal(body, &uia); err != nil || uia.Session == "" {
			t.Fatalf("UIA challenge without session: %s", body)
		}
		session := uia.Session
		err = laptop.DeleteDevice(ctx, phone.DeviceID, &mautrix.ReqDeleteDevice[any]{Auth: map[string]any{
			"type":       "m.login.password",
			"session":    session,
			"identifier": map[string]string{"type": "m.id.user", "user": "alice"},
			"password":   password,
		}})
		if err != nil {
			t.Fatalf("delete device with password: %v", err)
		}
		if _, err := phone.Whoami(ctx); !errors.Is(err, mautrix.MUnknownToken) {
			t.Errorf("deleted device's token: got %v, want M_UNKNOWN_TOKEN", err)
		}
		if got := deviceIDs(t, laptop); !slices.Equal(got, []id.DeviceID{laptop.DeviceID}) {
			t.Errorf("devices after delete: got %v, want [%s]", got, laptop.DeviceID)
		}
	})
}

// TestRestart proves that what a client was told survives a restart: the
// token and device from before still work on the same database.
func TestRestart(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, stop := startServer(t, cfg)
		alice := mustRegister(t, srv.URL, "alice", "restart password")
		if err := alice.SetDisplayName(context.Background(), "Before Restart"); err != nil {
			t.Fatal(err)
		}
		stop()

		again, _ := startServer(t, cfg)
		alice.HomeserverURL.Host = again.URL[len("http://"):]
		who, err := alice.Whoami(context.Background())
		if err != nil {
			t.Fatalf("whoami after restart: %v", err)
		}
		if who.UserID != alice.UserID || who.DeviceID != alice.DeviceID {
			t.Errorf("got %s/%s, want %s/%s", who.UserID, who.DeviceID, alice.UserID, alice.DeviceID)
		}
		name, err := alice.GetOwnDisplayName(context.Background())
		if err != nil || name.DisplayName != "Before Restart" {
			t.Errorf("display name after restart: got %q (%v), want %q", name.DisplayName, err, "Before Restart")
		}
	})
}

// mustPublicRoom creates a public room of owner that the others join.
func mustPublicRoom(t *testing.T, owner *mautrix.Client, others ...*mautrix.Client) id.RoomID {
	t.Helper()
	return mustJoinedRoom(t, owner, &mautrix.ReqCreateRoom{Preset: "public_chat"}, others)
}

// mustPrivateRoom creates a private room of owner that invites the others,
// who join.
func mustPrivateRoom(t *testing.T, owner *mautrix.Client, others ...*mautrix.Client) id.RoomID {
	t.Helper()
	invite := make([]id.UserID, len(others))
	for i, cli := range others {
		invite[i] = cli.UserID
	}
	return mustJoinedRoom(t, owner, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: invite}, others)
}

// mustJoinedRoom creates a room of owner with req that the others join.
func mustJoinedRoom(t *testing.T, owner *mautrix.Client, req *mautrix.ReqCreateRoom, others []*mautrix.Client) id.RoomID {
	t.Helper()
	room, err := owner.CreateRoom(context.Background(), req)
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	for _, cli := range others {
		if _, err := cli.JoinRoomByID(context.Background(), room.RoomID); err != nil {
			t.Fatalf("%s joins: %v", cli.UserID, err)
		}
	}
	return room.RoomID
}
