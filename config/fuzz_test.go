package config

import (
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/trust/names"
)

// FuzzParse: whatever the bytes, Parse returns a config or an error, never
// panics or hangs; every problem it lists is one line (the operator reads
// them on a terminal, and a newline in a value must not forge a second
// problem); an accepted config holds what the validators accept.
func FuzzParse(f *testing.F) {
	f.Add([]byte(contract))
	f.Add([]byte("hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\n"))
	f.Add([]byte("hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b, days: 1.5}]\nca: {label: \"a\\nb\", days: 0}\n"))
	f.Add([]byte("hsm: {token: t, pin: 1234}\nwitnesses: [{name: w, key: /dev/zero}]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Parse(raw, dir)
		if err != nil {
			for _, p := range Problems(err) {
				if strings.ContainsAny(p.Error(), "\n\r") {
					t.Fatalf("a problem spans lines: %q", p.Error())
				}
			}
			if len(Problems(err)) == 0 && strings.ContainsAny(err.Error(), "\r") {
				t.Fatalf("the refusal holds a carriage return: %q", err.Error())
			}
			return
		}
		for _, r := range c.Repositories {
			if names.CheckGUN(r.GUN) != nil {
				t.Fatalf("accepted GUN %q that names.CheckGUN refuses", r.GUN)
			}
		}
		for _, d := range c.Delegations {
			if names.CheckDelegation(d.Role) != nil {
				t.Fatalf("accepted role %q that names.CheckDelegation refuses", d.Role)
			}
		}
	})
}
