package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// BenchmarkKeysClaim claims one one-time key from each of 100 devices in
// one /keys/claim, as a client starting an encrypted chat with a large
// team does. Keys are preloaded for benchtime iterations: run it with
// -benchtime 50x.
func BenchmarkKeysClaim(b *testing.B) {
	eachBenchDialect(b, func(b *testing.B, dialect string) {
		srv := benchServer(b, dialect, false)
		cli := mustRegister(b, srv.URL, "claimer", "bench password")
		db := storagetest.Open(b, string(srv.cfg.Database.URL))
		const devices = 100
		req := map[string]map[string]string{}
		err := db.WithTx(context.Background(), func(ctx context.Context, tx *storage.Tx) error {
			for d := 0; d < devices; d++ {
				user := fmt.Sprintf("@peer%d:bench.local", d)
				var keys []storage.OneTimeKey
				for k := 0; k < b.N+1; k++ {
					id := fmt.Sprintf("signed_curve25519:K%06d", k)
					keys = append(keys, storage.OneTimeKey{KeyID: id, Algorithm: "signed_curve25519",
						JSON: json.RawMessage(`{"key":"` + id + `"}`)})
				}
				if err := tx.AddOneTimeKeys(ctx, user, "DEV", keys); err != nil {
					return err
				}
				req[user] = map[string]string{"DEV": "signed_curve25519"}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		body := map[string]any{"one_time_keys": req}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			var resp struct {
				OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
			}
			if _, err := cli.MakeRequest(context.Background(), "POST", cli.BuildClientURL("v3", "keys", "claim"), body, &resp); err != nil {
				b.Fatal(err)
			}
			if len(resp.OneTimeKeys) != devices {
				b.Fatalf("claimed keys of %d devices, want %d", len(resp.OneTimeKeys), devices)
			}
		}
	})
}

// BenchmarkKeysQuery queries the device keys of 1,000 users in one
// /keys/query, as a client joining a large encrypted room does.
func BenchmarkKeysQuery(b *testing.B) {
	eachBenchDialect(b, func(b *testing.B, dialect string) {
		srv := benchServer(b, dialect, false)
		cli := mustRegister(b, srv.URL, "querier", "bench password")
		db := storagetest.Open(b, string(srv.cfg.Database.URL))
		const users = 1000
		req := map[string][]string{}
		err := db.WithTx(context.Background(), func(ctx context.Context, tx *storage.Tx) error {
			for u := 0; u < users; u++ {
				user := fmt.Sprintf("@member%d:bench.local", u)
				keys := fmt.Sprintf(`{"user_id":%q,"device_id":"DEV","algorithms":["m.megolm.v1.aes-sha2"],"keys":{"curve25519:DEV":"c%d","ed25519:DEV":"e%d"}}`, user, u, u)
				if _, err := tx.PutDeviceKeys(ctx, user, "DEV", json.RawMessage(keys)); err != nil {
					return err
				}
				req[user] = []string{}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		body := map[string]any{"device_keys": req}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			var resp struct {
				DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
			}
			if _, err := cli.MakeRequest(context.Background(), "POST", cli.BuildClientURL("v3", "keys", "query"), body, &resp); err != nil {
				b.Fatal(err)
			}
			if len(resp.DeviceKeys) != users {
				b.Fatalf("got keys of %d users, want %d", len(resp.DeviceKeys), users)
			}
		}
	})
}
