package boundmap

import "testing"

func TestMap(t *testing.T) {
	m := Map[string, int]{Max: 2}
	if _, ok := m.Get("a"); ok {
		t.Fatal("empty map holds a")
	}
	m.Put("a", 1)
	m.Put("b", 2)
	if v, ok := m.Get("b"); !ok || v != 2 {
		t.Fatalf("b: got %d, %v; want 2", v, ok)
	}
	m.Put("c", 3) // full: starts over
	if _, ok := m.Get("a"); ok {
		t.Error("a outlived the reset of a full map")
	}
	if v, ok := m.Get("c"); !ok || v != 3 {
		t.Errorf("c: got %d, %v; want 3", v, ok)
	}
}
