package clientapi_test

import (
	"encoding/json"
	"testing"
)

// crossKey is a cross-signing key object of s with the usage, signed by
// signedBy unless nil.
func crossKey(t *testing.T, s signer, usage string, signedBy *signer) map[string]any {
	t.Helper()
	key := map[string]any{"user_id": s.userID, "usage": []string{usage}, "keys": map[string]string{"ed25519:" + s.pub: s.pub}}
	if signedBy == nil {
		return key
	}
	return signedBy.sign(t, key)
}

// crossSigning is a user's three cross-signing keys.
type crossSigning struct{ master, selfSigning, userSigning signer }

func newCrossSigning(t *testing.T, userID string) crossSigning {
	return crossSigning{newSigner(t, userID, ""), newSigner(t, userID, ""), newSigner(t, userID, "")}
}

// body is the upload of all three keys.
func (c crossSigning) body(t *testing.T) map[string]any {
	return map[string]any{
		"master_key":       crossKey(t, c.master, "master", nil),
		"self_signing_key": crossKey(t, c.selfSigning, "self_signing", &c.master),
		"user_signing_key": crossKey(t, c.userSigning, "user_signing", &c.master),
	}
}

// keysOf is the part of /keys/query the cross-signing tests read.
type keysOf struct {
	DeviceKeys map[string]map[string]struct {
		Signatures map[string]map[string]string `json:"signatures"`
	} `json:"device_keys"`
	MasterKeys map[string]struct {
		Keys       map[string]string            `json:"keys"`
		Signatures map[string]map[string]string `json:"signatures"`
	} `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage `json:"self_signing_keys"`
	UserSigningKeys map[string]json.RawMessage `json:"user_signing_keys"`
}

func (s *testServer) queryKeysOf(t *testing.T, viewer user, users ...string) keysOf {
	t.Helper()
	req := map[string][]string{}
	for _, u := range users {
		req[u] = []string{}
	}
	r := s.do(t, "POST", v3+"/keys/query", viewer.Token, map[string]any{"device_keys": req})
	wantOK(t, r)
	var out keysOf
	if err := json.Unmarshal(r.Raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *testServer) masterKeyOf(t *testing.T, viewer user, userID string) string {
	t.Helper()
	for _, pub := range s.queryKeysOf(t, viewer, userID).MasterKeys[userID].Keys {
		return pub
	}
	return ""
}

// TestAPI_DeviceSigningUpload: the first keys need no user-interactive
// auth, the same keys again neither, any new key does (spec 1.11,
// MSC3967); malformed keys are refused and stored nothing.
func TestAPI_DeviceSigningUpload(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		const path = v3 + "/keys/device_signing/upload"
		keys := newCrossSigning(t, alice.ID)
		first := keys.body(t)
		wantOK(t, s.do(t, "POST", path, alice.Token, first))
		if got := s.masterKeyOf(t, alice, alice.ID); got != keys.master.pub {
			t.Fatalf("master key after the first upload: got %q, want %q", got, keys.master.pub)
		}

		t.Run("OKSameAgain", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", path, alice.Token, first))
		})
		t.Run("UserSigningKeyOnlyForItsOwner", func(t *testing.T) {
			carol := s.mustRegister(t, "carol", "carol password")
			own, other := s.queryKeysOf(t, alice, alice.ID), s.queryKeysOf(t, carol, alice.ID)
			if own.SelfSigningKeys[alice.ID] == nil || own.UserSigningKeys[alice.ID] == nil {
				t.Errorf("alice's own query: got self-signing %s and user-signing %s, want both",
					own.SelfSigningKeys[alice.ID], own.UserSigningKeys[alice.ID])
			}
			if other.MasterKeys[alice.ID].Keys == nil || other.SelfSigningKeys[alice.ID] == nil || other.UserSigningKeys[alice.ID] != nil {
				t.Errorf("carol's query of alice: got %+v, want master and self-signing keys, no user-signing key", other)
			}
		})
		newSelf := newSigner(t, alice.ID, "")
		for _, tc := range []struct {
			name string
			body map[string]any
		}{
			{"NewMaster", newCrossSigning(t, alice.ID).body(t)},
			{"NewSelfSigningSameMaster", map[string]any{
				"master_key": first["master_key"], "self_signing_key": crossKey(t, newSelf, "self_signing", &keys.master),
			}},
			{"SelfSigningWithoutMaster", map[string]any{"self_signing_key": first["self_signing_key"]}},
		} {
			t.Run("ErrNeedsAuth"+tc.name, func(t *testing.T) {
				wantChallenge(t, s.do(t, "POST", path, alice.Token, tc.body), "", "m.login.password")
				if got := s.masterKeyOf(t, alice, alice.ID); got != keys.master.pub {
					t.Errorf("master key after a refused upload: got %q, want %q", got, keys.master.pub)
				}
			})
		}
		t.Run("OKReplaceWithAuth", func(t *testing.T) {
			next := newCrossSigning(t, alice.ID)
			body := next.body(t)
			session := wantChallenge(t, s.do(t, "POST", path, alice.Token, body), "", "m.login.password")
			body["auth"] = passwordAuth(alice, "alice password", session)
			wantOK(t, s.do(t, "POST", path, alice.Token, body))
			if got := s.masterKeyOf(t, alice, alice.ID); got != next.master.pub {
				t.Errorf("master key after the authenticated upload: got %q, want %q", got, next.master.pub)
			}
		})

		t.Run("ErrBadInput", func(t *testing.T) {
			bob := s.mustRegister(t, "bob", "bob password")
			bk := newCrossSigning(t, bob.ID)
			stranger := newSigner(t, bob.ID, "")
			aliceMaster := crossKey(t, newSigner(t, alice.ID, ""), "master", nil)
			wrongID := crossKey(t, bk.master, "master", nil)
			wrongID["keys"] = map[string]string{"ed25519:KEYID": bk.master.pub}
			deviceKey := newSigner(t, bob.ID, "")
			wantOK(t, s.do(t, "POST", v3+"/login", "", map[string]any{
				"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "bob"},
				"password": "bob password", "device_id": deviceKey.pub,
			}))
			for _, tc := range []struct {
				name, errcode string
				status        int
				body          map[string]any
			}{
				{"OtherUser", "M_INVALID_PARAM", 400, map[string]any{"master_key": aliceMaster}},
				{"WrongUsage", "M_INVALID_PARAM", 400, map[string]any{"master_key": crossKey(t, bk.master, "self_signing", nil)}},
				{"KeyIDNotPublicKey", "M_INVALID_PARAM", 400, map[string]any{"master_key": wrongID}},
				{"Malformed", "M_BAD_JSON", 400, map[string]any{"master_key": "key"}},
				{"SelfSigningWithoutMaster", "M_MISSING_PARAM", 400, map[string]any{
					"self_signing_key": crossKey(t, bk.selfSigning, "self_signing", &bk.master)}},
				{"SelfSigningNotSignedByMaster", "M_INVALID_SIGNATURE", 400, map[string]any{
					"master_key": crossKey(t, bk.master, "master", nil), "self_signing_key": crossKey(t, bk.selfSigning, "self_signing", &stranger)}},
				{"PublicKeyIsADeviceID", "M_FORBIDDEN", 403, map[string]any{"master_key": crossKey(t, deviceKey, "master", nil)}},
				{"Empty", "M_MISSING_PARAM", 400, map[string]any{}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					wantErr(t, s.do(t, "POST", path, bob.Token, tc.body), tc.status, tc.errcode)
					if got := s.masterKeyOf(t, bob, bob.ID); got != "" {
						t.Errorf("bob's master key after a refused upload: got %q, want none", got)
					}
				})
			}
		})
	})
}

// TestAPI_SignaturesUpload: signatures by the self-signing key over the
// user's devices and by the user-signing key over others' master keys are
// stored and served; each bad one is a failure of its own while the good
// ones of the same request are stored.
func TestAPI_SignaturesUpload(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		dev := newSigner(t, alice.ID, alice.DeviceID)
		deviceKeys := dev.deviceKeys(t)
		wantOK(t, s.uploadKeys(t, alice, map[string]any{"device_keys": deviceKeys}))
		ak, bk := newCrossSigning(t, alice.ID), newCrossSigning(t, bob.ID)
		wantOK(t, s.do(t, "POST", v3+"/keys/device_signing/upload", alice.Token, ak.body(t)))
		bobMaster := crossKey(t, bk.master, "master", nil)
		wantOK(t, s.do(t, "POST", v3+"/keys/device_signing/upload", bob.Token, map[string]any{"master_key": bobMaster}))

		forger := ak.selfSigning
		forger.priv = newSigner(t, alice.ID, "").priv // claims the self-signing key's id
		altered := dev.deviceKeys(t)
		altered["keys"].(map[string]any)["curve25519:"+alice.DeviceID] = "c29tZXRoaW5nIGVsc2U"
		unsigned := map[string]any{}
		for k, v := range deviceKeys {
			if k != "signatures" {
				unsigned[k] = v
			}
		}
		otherSigner := newSigner(t, bob.ID, "")
		otherMaster := crossKey(t, otherSigner, "master", nil)
		r := s.do(t, "POST", v3+"/keys/signatures/upload", alice.Token, map[string]any{
			alice.ID: map[string]any{
				alice.DeviceID: ak.selfSigning.sign(t, deviceKeys),
				"NOSUCHDEVICE": ak.selfSigning.sign(t, deviceKeys),
			},
			bob.ID: map[string]any{bk.master.pub: ak.userSigning.sign(t, bobMaster)},
		})
		wantOK(t, r)
		failures, _ := r.Body["failures"].(map[string]any)
		if ofAlice, _ := failures[alice.ID].(map[string]any); len(failures) != 1 || len(ofAlice) != 1 || ofAlice["NOSUCHDEVICE"] == nil {
			t.Errorf("good signatures and an unknown device: got failures %v, want one for alice's unknown device", failures)
		}
		got := s.queryKeysOf(t, alice, alice.ID, bob.ID)
		if sig := got.DeviceKeys[alice.ID][alice.DeviceID].Signatures[alice.ID]["ed25519:"+ak.selfSigning.pub]; sig == "" {
			t.Errorf("alice's device: got signatures %v, want one by her self-signing key", got.DeviceKeys[alice.ID][alice.DeviceID].Signatures)
		}
		if sig := got.MasterKeys[bob.ID].Signatures[alice.ID]["ed25519:"+ak.userSigning.pub]; sig == "" {
			t.Errorf("bob's master key: got signatures %v, want one by alice's user-signing key", got.MasterKeys[bob.ID].Signatures)
		}

		for _, tc := range []struct {
			name, target, keyID string
			signed              map[string]any
		}{
			{"Forged", alice.ID, alice.DeviceID, forger.sign(t, dev.deviceKeys(t))},
			{"NotTheStoredKey", alice.ID, alice.DeviceID, ak.selfSigning.sign(t, altered)},
			{"ByWrongKey", alice.ID, alice.DeviceID, ak.userSigning.sign(t, deviceKeys)},
			{"NoSignatureByUploader", alice.ID, alice.DeviceID, unsigned},
			{"NotBobsMasterKey", bob.ID, otherSigner.pub, ak.userSigning.sign(t, otherMaster)},
			{"OtherMasterKey", bob.ID, bk.master.pub, ak.userSigning.sign(t, otherMaster)},
			{"UnknownUser", userID("nobody"), bk.master.pub, ak.userSigning.sign(t, bobMaster)},
		} {
			t.Run("Err"+tc.name, func(t *testing.T) {
				r := s.do(t, "POST", v3+"/keys/signatures/upload", alice.Token, map[string]any{tc.target: map[string]any{tc.keyID: tc.signed}})
				wantOK(t, r)
				failures, _ := r.Body["failures"].(map[string]any)
				ofTarget, _ := failures[tc.target].(map[string]any)
				failure, _ := ofTarget[tc.keyID].(map[string]any)
				if failure["errcode"] == nil {
					t.Fatalf("got %s, want a failure for %s of %s", r.Raw, tc.keyID, tc.target)
				}
			})
		}
		// None of the refused signatures reached the keys.
		after := s.queryKeysOf(t, alice, alice.ID, bob.ID)
		if n := len(after.DeviceKeys[alice.ID][alice.DeviceID].Signatures[alice.ID]); n != 2 {
			t.Errorf("alice's device: got %d signatures by alice, want 2 (its own, the self-signing key's)", n)
		}
		if n := len(after.MasterKeys[bob.ID].Signatures[alice.ID]); n != 1 {
			t.Errorf("bob's master key: got %d signatures by alice, want 1", n)
		}
	})
}
