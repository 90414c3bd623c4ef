package media

import (
	"html"
	"strings"
	"unicode/utf8"
)

// pageMeta is what a preview reads from an HTML page.
type pageMeta struct {
	og          map[string]string // og:* properties, first value of each
	title       string            // <title>
	description string            // <meta name="description">
}

// Bounds on what parseHTML keeps.
const (
	maxOGProperties = 32
	maxMetaValue    = 2000
)

// parseHTML reads OpenGraph properties, the title and the description from
// an HTML document. It is a small tag scanner, not a full HTML parser:
// enough for the <head> of real pages, and safe on any input (it never
// fails, only finds less).
func parseHTML(doc string) pageMeta {
	meta := pageMeta{og: map[string]string{}}
	for i := 0; i < len(doc); {
		lt := strings.IndexByte(doc[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		rest := doc[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			i += skipPast(rest, "-->")
			continue
		case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"), strings.HasPrefix(rest, "</"):
			i += skipPast(rest, ">")
			continue
		}
		name, attrs, n := readTag(rest)
		i += n
		switch name {
		case "meta":
			meta.addMeta(attrs)
		case "title":
			end := indexFold(doc[i:], "</title")
			if end < 0 {
				end = len(doc) - i
			}
			if meta.title == "" {
				meta.title = clean(html.UnescapeString(doc[i : i+end]))
			}
			i += end
		case "script", "style", "noscript", "template":
			if end := indexFold(doc[i:], "</"+name); end >= 0 {
				i += end
			} else {
				i = len(doc)
			}
		case "body":
			return meta // properties belong in <head>; bodies are large
		}
	}
	return meta
}

// addMeta records a <meta> tag's OpenGraph property or description.
func (m *pageMeta) addMeta(attrs map[string]string) {
	content, ok := attrs["content"]
	if !ok {
		return
	}
	key := attrs["property"]
	if key == "" {
		key = attrs["name"]
	}
	key = strings.ToLower(strings.TrimSpace(key))
	switch {
	case key == "description" && m.description == "":
		m.description = clean(content)
	case strings.HasPrefix(key, "og:") && len(m.og) < maxOGProperties:
		if _, seen := m.og[key]; !seen {
			m.og[key] = clean(content)
		}
	}
}

// readTag reads the start tag at the beginning of s ("<name attr=...>")
// and returns its lower-case name, its attributes (lower-case names,
// unescaped values) and its length.
func readTag(s string) (name string, attrs map[string]string, n int) {
	i := 1
	for i < len(s) && isNameByte(s[i]) {
		i++
	}
	name = strings.ToLower(s[1:i])
	if name == "" {
		return "", nil, 1
	}
	attrs = map[string]string{}
	for i < len(s) {
		for i < len(s) && (isSpace(s[i]) || s[i] == '/') {
			i++
		}
		if i >= len(s) || s[i] == '>' {
			break
		}
		start := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '=' && s[i] != '>' && s[i] != '/' {
			i++
		}
		key := strings.ToLower(s[start:i])
		if i == start { // a stray '=': skip it
			i++
			continue
		}
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		value := ""
		if i < len(s) && s[i] == '=' {
			i++
			for i < len(s) && isSpace(s[i]) {
				i++
			}
			value, i = readValue(s, i)
		}
		if _, dup := attrs[key]; !dup {
			attrs[key] = html.UnescapeString(value)
		}
	}
	if i < len(s) {
		i++ // the '>'
	}
	return name, attrs, i
}

// readValue reads a quoted or unquoted attribute value starting at s[i].
func readValue(s string, i int) (string, int) {
	if i >= len(s) {
		return "", i
	}
	if q := s[i]; q == '"' || q == '\'' {
		end := strings.IndexByte(s[i+1:], q)
		if end < 0 {
			return s[i+1:], len(s)
		}
		return s[i+1 : i+1+end], i + 2 + end
	}
	start := i
	for i < len(s) && !isSpace(s[i]) && s[i] != '>' {
		i++
	}
	return s[start:i], i
}

// skipPast returns the length of s up to and including the first sep, or
// all of s.
func skipPast(s, sep string) int {
	if j := strings.Index(s, sep); j >= 0 {
		return j + len(sep)
	}
	return len(s)
}

// indexFold is strings.Index ignoring ASCII case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == ':'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// clean collapses white space, makes the text valid UTF-8 without NUL and
// cuts it to maxMetaValue bytes.
func clean(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= maxMetaValue {
		return s
	}
	s = s[:maxMetaValue]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
