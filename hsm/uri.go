package hsm

import (
	"fmt"
	"net/url"
	"strings"
)

// URI is the subset of an RFC 7512 PKCS#11 URI a ceremony uses to name a key:
//
//	pkcs11:token=ceremony;object=root;id=%a1%b2;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
//
// pin-value is refused: a PIN in a URI ends up in shell history and argv.
type URI struct {
	Token        string
	Manufacturer string
	Model        string
	Serial       string
	Object       string
	ID           []byte
	Type         string
	ModulePath   string
	PinSource    string
}

// ParseURI parses a pkcs11: URI.
func ParseURI(s string) (*URI, error) {
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		return nil, fmt.Errorf("PKCS#11 URI %q must start with \"pkcs11:\"", s)
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	if path != "" {
		for _, attr := range strings.Split(path, ";") {
			k, v, ok := strings.Cut(attr, "=")
			if !ok {
				return nil, fmt.Errorf("PKCS#11 URI: path attribute %q has no '='", attr)
			}
			val, err := url.PathUnescape(v)
			if err != nil {
				return nil, fmt.Errorf("PKCS#11 URI: attribute %s: %w", k, err)
			}
			switch k {
			case "token":
				u.Token = val
			case "manufacturer":
				u.Manufacturer = val
			case "model":
				u.Model = val
			case "serial":
				u.Serial = val
			case "object":
				u.Object = val
			case "id":
				u.ID = []byte(val)
			case "type":
				switch val {
				case "private", "public", "cert", "secret-key", "data":
					u.Type = val
				default:
					return nil, fmt.Errorf("PKCS#11 URI: unknown type %q", val)
				}
			case "library-description", "library-manufacturer", "library-version", "slot-description", "slot-id", "slot-manufacturer":
				// Accepted and ignored: slots are chosen by token label.
			default:
				return nil, fmt.Errorf("PKCS#11 URI: unknown path attribute %q", k)
			}
		}
	}
	if query != "" {
		for _, attr := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(attr, "=")
			val, err := url.PathUnescape(v)
			if err != nil {
				return nil, fmt.Errorf("PKCS#11 URI: query %s: %w", k, err)
			}
			switch k {
			case "module-path":
				u.ModulePath = val
			case "pin-source":
				u.PinSource = val
			case "pin-value":
				return nil, fmt.Errorf("PKCS#11 URI: pin-value is refused (a PIN on a command line leaks); use pin-source=env:NAME or pin-source=file:PATH")
			case "module-name":
				// Only module-path is honoured; a bare name would need a search path.
				return nil, fmt.Errorf("PKCS#11 URI: module-name is not supported; use module-path")
			default:
				return nil, fmt.Errorf("PKCS#11 URI: unknown query attribute %q", k)
			}
		}
	}
	if u.Object == "" && len(u.ID) == 0 {
		return nil, fmt.Errorf("PKCS#11 URI %q names no key: add object=LABEL or id=%%HEX", s)
	}
	return u, nil
}

// MatchesToken reports whether the URI's token attributes fit t.
func (u *URI) MatchesToken(t TokenInfo) bool {
	return (u.Token == "" || u.Token == t.Label) &&
		(u.Serial == "" || u.Serial == t.Serial) &&
		(u.Manufacturer == "" || u.Manufacturer == t.Manufacturer) &&
		(u.Model == "" || u.Model == t.Model)
}

// String prints the URI back without secrets (it never holds any).
func (u *URI) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+escape(v))
		}
	}
	add("token", u.Token)
	add("manufacturer", u.Manufacturer)
	add("model", u.Model)
	add("serial", u.Serial)
	add("object", u.Object)
	if len(u.ID) > 0 {
		var b strings.Builder
		for _, c := range u.ID {
			fmt.Fprintf(&b, "%%%02x", c)
		}
		parts = append(parts, "id="+b.String())
	}
	add("type", u.Type)
	s := "pkcs11:" + strings.Join(parts, ";")
	var q []string
	if u.ModulePath != "" {
		q = append(q, "module-path="+escape(u.ModulePath))
	}
	if u.PinSource != "" {
		q = append(q, "pin-source="+escape(u.PinSource))
	}
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	return s
}

func escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~:/@!$'()*+,", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
