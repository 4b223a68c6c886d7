package pki

import (
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// subjectAttrs are the attributes ParseSubject accepts, each with where it
// goes in a pkix.Name.
var subjectAttrs = map[string]func(*pkix.Name, string){
	"CN": func(n *pkix.Name, v string) { n.CommonName = v },
	"O":  func(n *pkix.Name, v string) { n.Organization = []string{v} },
	"OU": func(n *pkix.Name, v string) { n.OrganizationalUnit = []string{v} },
	"L":  func(n *pkix.Name, v string) { n.Locality = []string{v} },
	"ST": func(n *pkix.Name, v string) { n.Province = []string{v} },
	"C":  func(n *pkix.Name, v string) { n.Country = []string{v} },
}

// subjectMax is RFC 5280's upper bound (ub-*) for each attribute, in
// characters; zlint refuses a longer value (e_subject_*_max_length), and
// ParseSubject refuses it first, before any key is made.
var subjectMax = map[string]int{"CN": 64, "O": 64, "OU": 64, "L": 128, "ST": 128, "C": 2}

const subjectAttrList = "CN, O, OU, L, ST, C"

// ParseSubject parses a subject written "CN=Docker Notary CA,O=Acme": comma
// separated ATTR=value pairs, attribute names case-insensitive, spaces around
// names and values ignored, `\,` and `\\` for a literal comma or backslash.
// Each attribute may appear once (a repeated one would make a multi-valued
// RDN). The certificate lists them in Go's order C, ST, L, O, OU, CN
// whatever the order written.
func ParseSubject(s string) (pkix.Name, error) {
	var name pkix.Name
	if strings.TrimSpace(s) == "" {
		return name, fmt.Errorf("subject is empty; write it like %q", "CN=Docker Notary CA,O=Acme")
	}
	if strings.HasPrefix(s, "/") {
		return name, fmt.Errorf("subject %q is in openssl's /CN=.../O=... form; write it like %q", s, "CN=Docker Notary CA,O=Acme")
	}
	parts, err := splitEscaped(s)
	if err != nil {
		return name, fmt.Errorf("subject %q: %w", s, err)
	}
	seen := map[string]bool{}
	for _, part := range parts {
		attr, value, ok := strings.Cut(part, "=")
		attr, value = strings.ToUpper(strings.TrimSpace(attr)), strings.TrimSpace(value)
		if !ok || attr == "" {
			return name, fmt.Errorf("subject %q: %q is not ATTR=value", s, strings.TrimSpace(part))
		}
		set, known := subjectAttrs[attr]
		switch {
		case !known:
			return name, fmt.Errorf("subject %q: unknown attribute %q (known: %s)", s, attr, subjectAttrList)
		case seen[attr]:
			return name, fmt.Errorf("subject %q: %s given twice", s, attr)
		case value == "":
			return name, fmt.Errorf("subject %q: %s is empty", s, attr)
		case attr == "C" && !isCountryCode(value):
			return name, fmt.Errorf("subject %q: C must be a two-letter ISO 3166 country code like US, got %q", s, value)
		case utf8.RuneCountInString(value) > subjectMax[attr]:
			return name, fmt.Errorf("subject %q: %s is %d characters; X.509 allows at most %d, so shorten it", s, attr, utf8.RuneCountInString(value), subjectMax[attr])
		}
		seen[attr] = true
		set(&name, value)
	}
	return name, nil
}

// splitEscaped splits on unescaped commas and resolves \, and \\.
func splitEscaped(s string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 == len(s) || (s[i+1] != ',' && s[i+1] != '\\') {
				return nil, errors.New(`a backslash may only escape "," or "\"`)
			}
			i++
			cur.WriteByte(s[i])
		case c == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String()), nil
}

func isCountryCode(v string) bool {
	return len(v) == 2 && 'A' <= v[0] && v[0] <= 'Z' && 'A' <= v[1] && v[1] <= 'Z'
}
