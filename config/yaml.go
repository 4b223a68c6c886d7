package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yaml.v3 reports every decode problem in one multi-line error, in Go's
// terms ("cannot unmarshal !!str `ten` into int", "field lable not found in
// type config.Key"). decodeError rewrites each as one line in the config's
// terms, with the fix.
var (
	unknownField = regexp.MustCompile("^(line \\d+): field (.+) not found in type config\\.(\\w+)$")
	wrongType    = regexp.MustCompile("^(line \\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

func decodeError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("decode: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	var errs []error
	for _, e := range te.Errors {
		errs = append(errs, errors.New(rewrite(e)))
	}
	return errors.Join(errs...)
}

func rewrite(e string) string {
	if m := unknownField.FindStringSubmatch(e); m != nil {
		keys := yamlKeys(m[3])
		hint := ""
		if near := nearest(m[2], keys); near != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", near)
		}
		return fmt.Sprintf("%s: unknown key %q%s; the keys here are %s", m[1], m[2], hint, strings.Join(keys, ", "))
	}
	if m := wrongType.FindStringSubmatch(e); m != nil {
		want := map[string]string{"int": "a whole number", "bool": "true or false", "string": "a string (quote it)",
			"config.Paths": `"all" or a list of path prefixes`}[m[4]]
		if want == "" {
			want = "a " + strings.TrimPrefix(m[4], "config.") + " section"
		}
		if m[2] == "map" || m[2] == "seq" {
			return fmt.Sprintf("%s: a %s where %s belongs", m[1], map[string]string{"map": "mapping", "seq": "list"}[m[2]], want)
		}
		if _, err := strconv.Atoi(m[3]); err == nil && m[2] == "str" && m[4] == "int" {
			return fmt.Sprintf("%s: %q is not a whole number: write one, without quotes", m[1], m[3])
		}
		return fmt.Sprintf("%s: %q is not %s", m[1], m[3], want)
	}
	if strings.Contains(e, "already defined") {
		return e + ": keep one of them"
	}
	return e
}

// sections maps the types yaml.v3 names to the config's sections.
var sections = map[string]reflect.Type{
	"Config": reflect.TypeFor[Config](), "HSM": reflect.TypeFor[HSM](), "Key": reflect.TypeFor[Key](),
	"Repository": reflect.TypeFor[Repository](), "Notary": reflect.TypeFor[Notary](),
	"Delegation": reflect.TypeFor[Delegation](), "Witness": reflect.TypeFor[Witness](),
}

// yamlKeys lists the YAML keys of a section type.
func yamlKeys(typ string) []string {
	t, ok := sections[typ]
	if !ok {
		return nil
	}
	var keys []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// nearest is the key within two edits of s, if one is.
func nearest(s string, keys []string) string {
	best, bestD := "", 3
	for _, k := range keys {
		if d := distance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance of two short strings.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// checkDays refuses what yaml.v3 would turn into a number of days without
// a word: a fraction or exponent (1.5 becomes 1), and an explicit 0, which
// the defaults would silently replace.
func checkDays(doc *yaml.Node) []error {
	var errs []error
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				field := strings.TrimPrefix(path+"."+k.Value, ".")
				if k.Value == "days" && v.Kind == yaml.ScalarNode {
					if err := checkDaysValue(field, v); err != nil {
						errs = append(errs, err)
					}
				}
				walk(v, field)
			}
		}
	}
	walk(doc, "")
	return errs
}

func checkDaysValue(field string, v *yaml.Node) error {
	switch v.ShortTag() {
	case "!!float":
		return fieldErr(field, "%s is not a whole number of days", v.Value)
	case "!!int":
		if n, err := strconv.ParseInt(strings.ReplaceAll(v.Value, "_", ""), 0, 64); err == nil && n == 0 {
			return fieldErr(field, "0 days: give the validity in days (1 or more), or leave days out for the default")
		}
	}
	return nil
}
