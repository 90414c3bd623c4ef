package syncapi_test

import (
	"testing"

	"github.com/ganglion/ganglion/syncapi"
)

func TestParseStreamToken(t *testing.T) {
	t.Run("OKRoundTrip", func(t *testing.T) {
		want := syncapi.StreamToken{Events: 1, AccountData: 2, Receipts: 3, Typing: 4, ToDevice: 5, DeviceLists: 6, Presence: 7}
		got, ok := syncapi.ParseStreamToken(want.String())
		if !ok || got != want {
			t.Errorf("got %+v, %v; want %+v", got, ok, want)
		}
	})
	t.Run("OKOlderTokenHasNoPresence", func(t *testing.T) {
		got, ok := syncapi.ParseStreamToken("s1_2_3_4_5_6")
		if want := (syncapi.StreamToken{Events: 1, AccountData: 2, Receipts: 3, Typing: 4, ToDevice: 5, DeviceLists: 6}); !ok || got != want {
			t.Errorf("got %+v, %v; want %+v", got, ok, want)
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		for _, s := range []string{"", "s", "x1", "s1_-2", "s1_", "s_1", "s1__2", "s1_2_3_4_5_6_7_8", "s1_2_x", "s1_2_3_4_5_6_7_8_9_10_11_12_13_14_15_16_17_18_19_20"} {
			if _, ok := syncapi.ParseStreamToken(s); ok {
				t.Errorf("%q: got ok, want malformed", s)
			}
		}
	})
}
