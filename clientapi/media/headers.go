package media

import (
	"mime"
	"strings"
)

// ContentSecurityPolicy is sent with all media, as the spec recommends: a
// sandbox without scripts, so that an uploaded HTML or SVG file opened in
// a browser cannot run script in the server's origin.
const ContentSecurityPolicy = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';"

// inlineTypes are the content types the spec lists as safe to serve with
// Content-Disposition: inline. Everything else (HTML, SVG, XML, PDF, ...)
// is served as an attachment.
var inlineTypes = map[string]bool{
	"text/css": true, "text/plain": true, "text/csv": true,
	"application/json": true, "application/ld+json": true,
	"image/jpeg": true, "image/gif": true, "image/png": true, "image/apng": true,
	"image/webp": true, "image/avif": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
	"audio/mp4": true, "audio/webm": true, "audio/aac": true, "audio/mpeg": true, "audio/ogg": true,
	"audio/wave": true, "audio/wav": true, "audio/x-wav": true, "audio/x-pn-wav": true,
	"audio/flac": true, "audio/x-flac": true,
}

// InlineSafe reports whether content of the type may be served inline.
func InlineSafe(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && inlineTypes[strings.ToLower(mediaType)]
}

// Disposition returns the Content-Disposition value for content of the
// type with the file name ("" for none): inline for safe types, attachment
// otherwise. A name that is not plain printable ASCII is sent as RFC 6266
// says: an ASCII fallback in filename and the exact name, UTF-8 and
// percent-encoded, in filename*.
func Disposition(contentType, filename string) string {
	kind := "attachment"
	if InlineSafe(contentType) {
		kind = "inline"
	}
	if filename == "" {
		return kind
	}
	fallback, exact := asciiFallback(filename)
	if exact {
		return kind + `; filename="` + fallback + `"`
	}
	return kind + `; filename="` + fallback + `"; filename*=UTF-8''` + percentEncode(filename)
}

// asciiFallback replaces every byte of name that cannot stand in a quoted
// string (non-ASCII, controls, '"' and '\') with '_'; exact reports
// whether none had to be.
func asciiFallback(name string) (fallback string, exact bool) {
	b := []byte(name)
	exact = true
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i], exact = '_', false
		}
	}
	return string(b), exact
}

// percentEncode encodes s as RFC 8187's value-chars: attr-chars as they
// are, every other byte as %XX.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

func isAttrChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
