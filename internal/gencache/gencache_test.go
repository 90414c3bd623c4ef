package gencache

import "testing"

func TestCache(t *testing.T) {
	var gens Generations[string]
	c := Cache[string, int]{Max: 2}
	g := gens.Of("a")
	c.Put("a", g, 1)
	if v, ok := c.Get("a", gens.Of("a")); !ok || v != 1 {
		t.Fatalf("fresh entry: got %d, %v", v, ok)
	}
	gens.Advance("a")
	if _, ok := c.Get("a", gens.Of("a")); ok {
		t.Fatal("entry read before a change served after it")
	}
	// A read that started before the change stores under the old
	// generation and is never served.
	c.Put("a", g, 1)
	if _, ok := c.Get("a", gens.Of("a")); ok {
		t.Fatal("entry read during a change served after it")
	}
	if _, ok := c.Get("b", gens.Of("b")); ok {
		t.Fatal("never stored, yet found")
	}
	c.Put("b", 0, 2)
	c.Put("c", 0, 3) // full: starts over
	if _, ok := c.Get("b", 0); ok || len(c.entries) != 1 {
		t.Fatalf("bound: %d entries, b kept %v", len(c.entries), ok)
	}
}
