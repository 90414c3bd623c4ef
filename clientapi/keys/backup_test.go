package keys_test

import (
	"testing"

	"github.com/ganglion/ganglion/clientapi/keys"
	"github.com/ganglion/ganglion/storage"
)

// TestShouldReplace follows the spec's rule: verified first, then the lower
// first_message_index, then the lower forwarded_count.
func TestShouldReplace(t *testing.T) {
	key := func(verified bool, index, forwarded int64) storage.BackupKey {
		return storage.BackupKey{IsVerified: verified, FirstMessageIndex: index, ForwardedCount: forwarded}
	}
	for _, tc := range []struct {
		name             string
		stored, uploaded storage.BackupKey
		want             bool
	}{
		{"VerifiedBeatsLowerIndex", key(false, 0, 0), key(true, 5, 5), true},
		{"UnverifiedNeverBeatsVerified", key(true, 5, 5), key(false, 0, 0), false},
		{"LowerIndex", key(true, 5, 0), key(true, 4, 9), true},
		{"HigherIndex", key(false, 4, 9), key(false, 5, 0), false},
		{"LowerForwardedCount", key(false, 3, 2), key(false, 3, 1), true},
		{"HigherForwardedCount", key(false, 3, 1), key(false, 3, 2), false},
		{"EqualKeepsStored", key(true, 3, 1), key(true, 3, 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keys.ShouldReplace(tc.stored, tc.uploaded); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
