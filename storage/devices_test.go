package storage_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// mustGetDevice returns one device.
func mustGetDevice(t *testing.T, db *storage.DB, localpart, deviceID string) storage.Device {
	t.Helper()
	d, err := db.Device(t.Context(), localpart, deviceID)
	if err != nil {
		t.Fatalf("Device(%s, %s): got %v, want nil", localpart, deviceID, err)
	}
	return d
}

func TestTx_UpsertDevice(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		mustAccount(t, db, "alice")
		t.Run("OKCreate", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.UpsertDevice(ctx, "alice", "PHONE", ptr("Phone"), "198.51.100.7", "Element/1.0")
			})
			got := mustGetDevice(t, db, "alice", "PHONE")
			want := storage.Device{
				Localpart: "alice", ID: "PHONE", DisplayName: ptr("Phone"),
				CreatedAt: storagetest.Epoch, LastSeenAt: storagetest.Epoch,
				LastSeenIP: "198.51.100.7", UserAgent: "Element/1.0",
			}
			checkDevice(t, got, want)
		})
		t.Run("OKCreateWithoutName", func(t *testing.T) {
			mustDevice(t, db, "alice", "NONAME")
			if got := mustGetDevice(t, db, "alice", "NONAME"); got.DisplayName != nil {
				t.Errorf("DisplayName: got %s, want <nil>", str(got.DisplayName))
			}
		})
		t.Run("OKExistingRevokesTokens", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.UpsertDevice(ctx, "alice", "LAPTOP", ptr("Laptop"), "198.51.100.1", "old-agent")
			})
			mustDevice(t, db, "alice", "OTHER")
			mustLogin(t, db, "alice", "LAPTOP", "laptop-access", "laptop-refresh")
			mustAccessToken(t, db, "alice", "LAPTOP", "laptop-access-2", "")
			mustLogin(t, db, "alice", "OTHER", "other-access", "other-refresh")
			created := clock.Now()
			clock.Advance(time.Hour)

			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.UpsertDevice(ctx, "alice", "LAPTOP", nil, "198.51.100.2", "new-agent")
			})

			wantNoSession(t, db, "laptop-access")
			wantNoSession(t, db, "laptop-access-2")
			wantNoRefresh(t, db, "laptop-refresh")
			mustSession(t, db, "other-access")
			checkDevice(t, mustGetDevice(t, db, "alice", "LAPTOP"), storage.Device{
				Localpart: "alice", ID: "LAPTOP", DisplayName: ptr("Laptop"),
				CreatedAt: created, LastSeenAt: clock.Now(),
				LastSeenIP: "198.51.100.2", UserAgent: "new-agent",
			})
		})
		t.Run("OKExistingNewName", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.UpsertDevice(ctx, "alice", "TABLET", ptr("Old"), "", "")
			})
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.UpsertDevice(ctx, "alice", "TABLET", ptr("New"), "", "")
			})
			if got := mustGetDevice(t, db, "alice", "TABLET"); str(got.DisplayName) != `"New"` {
				t.Errorf("DisplayName: got %s, want \"New\"", str(got.DisplayName))
			}
		})
		t.Run("ErrUnknownAccount", func(t *testing.T) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.UpsertDevice(ctx, "nobody", "DEV", nil, "", "")
			})
			if err == nil {
				t.Fatal("got nil, want an error for a device of an unknown account")
			}
		})
	})
}

// checkDevice compares two devices field by field.
func checkDevice(t *testing.T, got, want storage.Device) {
	t.Helper()
	if got.Localpart != want.Localpart || got.ID != want.ID {
		t.Errorf("device: got %s/%s, want %s/%s", got.Localpart, got.ID, want.Localpart, want.ID)
	}
	if str(got.DisplayName) != str(want.DisplayName) {
		t.Errorf("DisplayName: got %s, want %s", str(got.DisplayName), str(want.DisplayName))
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("CreatedAt: got %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	if !got.LastSeenAt.Equal(want.LastSeenAt) {
		t.Errorf("LastSeenAt: got %v, want %v", got.LastSeenAt, want.LastSeenAt)
	}
	if got.LastSeenIP != want.LastSeenIP || got.UserAgent != want.UserAgent {
		t.Errorf("last seen: got %q %q, want %q %q", got.LastSeenIP, got.UserAgent, want.LastSeenIP, want.UserAgent)
	}
}

func deviceIDs(devs []storage.Device) []string {
	ids := make([]string, len(devs))
	for i, d := range devs {
		ids[i] = d.ID
	}
	return ids
}

func TestDB_Devices(t *testing.T) {
	// Byte order, the same under every dialect and collation: upper case
	// before lower case.
	insert := []string{"b", "ZED", "abc", "MID", "AAA"}
	want := []string{"AAA", "MID", "ZED", "abc", "b"}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustAccount(t, db, "alice")
		mustAccount(t, db, "bob")
		mustAccount(t, db, "carol")
		for _, id := range insert {
			mustDevice(t, db, "alice", id)
		}
		mustDevice(t, db, "bob", "BOBDEV")
		t.Run("OK", func(t *testing.T) {
			devs, err := db.Devices(ctx, "alice")
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if got := deviceIDs(devs); !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
			for _, d := range devs {
				if d.Localpart != "alice" {
					t.Errorf("device %s: got localpart %q, want alice", d.ID, d.Localpart)
				}
			}
		})
		t.Run("OKNone", func(t *testing.T) {
			for _, localpart := range []string{"carol", "unknown"} {
				devs, err := db.Devices(ctx, localpart)
				if err != nil || len(devs) != 0 {
					t.Errorf("Devices(%s): got %d, %v, want 0, nil", localpart, len(devs), err)
				}
			}
		})
		t.Run("OKLinguisticCollation", func(t *testing.T) {
			if db.Dialect() != "postgres" {
				t.Skip("collations are a PostgreSQL matter")
			}
			// A database created with a locale such as en_US sorts "abc"
			// before "MID"; the order must not depend on it. A fresh
			// database, so that no cached statement predates the change.
			db := storagetest.Open(t, storagetest.URL(t, "postgres"))
			if _, err := storage.WritePool(db).ExecContext(ctx,
				`ALTER TABLE devices ALTER COLUMN device_id TYPE TEXT COLLATE "und-x-icu"`); err != nil {
				t.Skipf("no ICU collation: %v", err)
			}
			mustAccount(t, db, "alice")
			for _, id := range insert {
				mustDevice(t, db, "alice", id)
			}
			devs, err := db.Devices(ctx, "alice")
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if got := deviceIDs(devs); !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	})
}

func TestDB_Device(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustAccount(t, db, "alice")
		mustAccount(t, db, "bob")
		mustDevice(t, db, "alice", "DEV")
		t.Run("OK", func(t *testing.T) {
			if got := mustGetDevice(t, db, "alice", "DEV"); got.ID != "DEV" || got.Localpart != "alice" {
				t.Errorf("got %s/%s, want alice/DEV", got.Localpart, got.ID)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, tc := range []struct{ localpart, deviceID string }{
				{"alice", "UNKNOWN"},
				{"alice", "dev"},
				{"bob", "DEV"},
				{"nobody", "DEV"},
			} {
				if _, err := db.Device(t.Context(), tc.localpart, tc.deviceID); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("Device(%s, %s): got %v, want ErrNotFound", tc.localpart, tc.deviceID, err)
				}
			}
		})
	})
}

func TestTx_SetDeviceDisplayName(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustAccount(t, db, "alice")
		mustAccount(t, db, "bob")
		mustDevice(t, db, "alice", "DEV")
		t.Run("OK", func(t *testing.T) {
			for _, name := range []string{"First", "Second", ""} {
				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.SetDeviceDisplayName(ctx, "alice", "DEV", name)
				})
				if got := mustGetDevice(t, db, "alice", "DEV"); str(got.DisplayName) != str(&name) {
					t.Errorf("DisplayName: got %s, want %s", str(got.DisplayName), str(&name))
				}
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, tc := range []struct{ localpart, deviceID string }{
				{"alice", "UNKNOWN"},
				{"bob", "DEV"},
			} {
				err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.SetDeviceDisplayName(ctx, tc.localpart, tc.deviceID, "name")
				})
				if !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("SetDeviceDisplayName(%s, %s): got %v, want ErrNotFound", tc.localpart, tc.deviceID, err)
				}
			}
		})
	})
}

func TestTx_DeleteDevices(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustAccount(t, db, "alice")
		mustAccount(t, db, "bob")
		for _, dev := range []string{"ONE", "TWO", "THREE"} {
			mustDevice(t, db, "alice", dev)
			mustLogin(t, db, "alice", dev, "alice-access-"+dev, "alice-refresh-"+dev)
		}
		mustDevice(t, db, "bob", "ONE")
		mustLogin(t, db, "bob", "ONE", "bob-access-ONE", "bob-refresh-ONE")
		t.Run("OK", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.DeleteDevices(ctx, "alice", []string{"ONE", "UNKNOWN", "THREE"})
			})
			devs, err := db.Devices(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if got := deviceIDs(devs); !slices.Equal(got, []string{"TWO"}) {
				t.Errorf("devices left: got %q, want [TWO]", got)
			}
			for _, dev := range []string{"ONE", "THREE"} {
				wantNoSession(t, db, "alice-access-"+dev)
				wantNoRefresh(t, db, "alice-refresh-"+dev)
			}
			mustSession(t, db, "alice-access-TWO")
			mustSession(t, db, "bob-access-ONE")
			mustGetDevice(t, db, "bob", "ONE")
		})
		t.Run("OKNothing", func(t *testing.T) {
			for _, ids := range [][]string{nil, {"UNKNOWN"}} {
				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.DeleteDevices(ctx, "alice", ids)
				})
			}
			mustGetDevice(t, db, "alice", "TWO")
		})
	})
}

func TestTx_TouchDevice(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		mustAccount(t, db, "alice")
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.UpsertDevice(ctx, "alice", "DEV", ptr("Name"), "198.51.100.1", "agent/1")
		})
		mustDevice(t, db, "alice", "OTHER")
		t.Run("OK", func(t *testing.T) {
			clock.Advance(90 * time.Minute)
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.TouchDevice(ctx, "alice", "DEV", "203.0.113.9", "agent/2")
			})
			checkDevice(t, mustGetDevice(t, db, "alice", "DEV"), storage.Device{
				Localpart: "alice", ID: "DEV", DisplayName: ptr("Name"),
				CreatedAt: storagetest.Epoch, LastSeenAt: clock.Now(),
				LastSeenIP: "203.0.113.9", UserAgent: "agent/2",
			})
			if other := mustGetDevice(t, db, "alice", "OTHER"); !other.LastSeenAt.Equal(storagetest.Epoch) {
				t.Errorf("other device LastSeenAt: got %v, want %v", other.LastSeenAt, storagetest.Epoch)
			}
		})
	})
}

func TestTx_DeviceIDs(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustAccount(t, db, "alice")
		mustAccount(t, db, "bob")
		mustDevice(t, db, "alice", "A")
		mustDevice(t, db, "alice", "B")
		mustDevice(t, db, "bob", "C")
		t.Run("OK", func(t *testing.T) {
			var got []string
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				var err error
				got, err = tx.DeviceIDs(ctx, "alice")
				return err
			})
			slices.Sort(got)
			if !slices.Equal(got, []string{"A", "B"}) {
				t.Errorf("got %q, want [A B]", got)
			}
		})
	})
}
