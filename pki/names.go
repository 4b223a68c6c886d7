package pki

import (
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
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

// Docker reference grammar (github.com/distribution/reference), lowercase
// only: a registry host[:port], then path components of lowercase
// alphanumerics joined by single ".", "_", "__" or runs of "-".
var (
	gunHost      = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]+)?$`)
	gunComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
)

// maxGUN is docker's limit on a repository name.
const maxGUN = 255

// maxCN is RFC 5280's ub-common-name.
const maxCN = 64

// ValidateGUN checks a notary globally unique name as Docker Content Trust
// uses them: a lowercase registry host then the repository path, like
// "docker.io/alice/nginx". It becomes the repository certificate's CN, which
// notary compares to the GUN exactly.
func ValidateGUN(gun string) error {
	const want = "want <registry host>/<path> like docker.io/alice/nginx"
	switch {
	case gun == "":
		return fmt.Errorf("GUN is empty; %s", want)
	case strings.ContainsFunc(gun, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return fmt.Errorf("GUN %q contains spaces or control characters", gun)
	case len(gun) > maxGUN:
		return fmt.Errorf("GUN %q is %d characters long; docker allows %d", gun, len(gun), maxGUN)
	case len(gun) > maxCN:
		// The repository certificate's CN must equal the GUN, and RFC 5280
		// caps a CN at 64 characters (zlint enforces it).
		return fmt.Errorf("GUN %q is %d characters long; its certificate's CN can hold %d", gun, len(gun), maxCN)
	case strings.ToLower(gun) != gun:
		return fmt.Errorf("GUN %q must be lowercase: %q", gun, strings.ToLower(gun))
	case strings.Contains(gun, "*"):
		return fmt.Errorf("GUN %q contains \"*\", which notary reads as a wildcard", gun)
	case strings.HasPrefix(gun, "/") || strings.HasSuffix(gun, "/"):
		return fmt.Errorf("GUN %q must not start or end with \"/\"; %s", gun, want)
	case strings.Contains(gun, ".."):
		return fmt.Errorf("GUN %q must not contain \"..\"", gun)
	case strings.Contains(gun, "//"):
		return fmt.Errorf("GUN %q has an empty path component (\"//\")", gun)
	}
	host, path, ok := strings.Cut(gun, "/")
	if !ok {
		return fmt.Errorf("GUN %q has no repository path; %s", gun, want)
	}
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return fmt.Errorf("GUN %q must start with a registry host such as docker.io, not %q; %s", gun, host, want)
	}
	if !gunHost.MatchString(host) {
		return fmt.Errorf("GUN %q: %q is not a valid registry host[:port]", gun, host)
	}
	for _, c := range strings.Split(path, "/") {
		if !gunComponent.MatchString(c) {
			return fmt.Errorf("GUN %q: path component %q must be lowercase letters and digits joined by single \".\", \"_\", \"__\" or \"-\"", gun, c)
		}
	}
	return nil
}
