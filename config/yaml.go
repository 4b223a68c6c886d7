package config

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yaml.v3 reports every decode problem in one multi-line error, in Go's
// terms ("cannot unmarshal !!str `ten` into int", "field lable not found in
// type config.Key"). rewrite turns each into one line in the config's
// terms, with the fix.
var (
	unknownField = regexp.MustCompile("^(line \\d+): field (.+) not found in type config\\.(\\w+)$")
	wrongType    = regexp.MustCompile("^(line \\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// decodeError is a file yaml.v3 could not read at all (a syntax error).
func decodeError(err error) error {
	return fmt.Errorf("decode: %s", strings.ReplaceAll(err.Error(), "\n", " "))
}

// readProblems turns what yaml.v3 refused (te, nil when nothing) into one
// line each in the config's terms, adds the days checks, and notes the
// fields concerned: Validate then drops their own checks, which would only
// repeat the problem ("hsm.token: missing" after "a mapping where a string
// belongs"), or which a misspelt key explains ("did you mean").
func (c *Config) readProblems(te *yaml.TypeError, doc *yaml.Node) {
	nodes := index(doc)
	bad := func(field string) {
		if c.badFields == nil {
			c.badFields = map[string]bool{}
		}
		c.badFields[field] = true
	}
	overflow := map[*yaml.Node]bool{}
	for _, d := range checkDays(nodes) {
		c.dayProblems = append(c.dayProblems, d.err)
		bad(d.field)
		if d.overflow {
			overflow[d.node] = true
		}
	}
	if te == nil {
		return
	}
	for _, e := range te.Errors {
		drop := false
		for _, n := range concerned(e, nodes) {
			bad(n.field)
			// The days check said it better: out of range, and the range.
			drop = drop || overflow[n.value]
		}
		if !drop {
			c.yamlProblems = append(c.yamlProblems, errors.New(rewrite(e)))
		}
	}
}

// node is a value of the YAML and the field it is at ("ca.days",
// "repositories[0]"); key is its key node, nil for a list item.
type node struct {
	field      string
	key, value *yaml.Node
}

// index lists every value of the document with its field.
func index(doc *yaml.Node) []node {
	var out []node
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				field := fmt.Sprintf("%s[%d]", path, i)
				out = append(out, node{field: field, value: c})
				walk(c, field)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				field := strings.TrimPrefix(path+"."+k.Value, ".")
				out = append(out, node{field: field, key: k, value: v})
				walk(v, field)
			}
		}
	}
	walk(doc, "")
	return out
}

// duplicate is yaml.v3's refusal of a key given twice.
var duplicate = regexp.MustCompile(`^(line \d+): mapping key "(.*)" already defined`)

// pathsLine is Paths.UnmarshalYAML's refusal.
var pathsLine = regexp.MustCompile(`^(line \d+): paths must be`)

// concerned are the values a yaml.v3 error is about: found by its line and
// what it quotes (a value, shortened by yaml.v3 past ten bytes, or a key).
// For an unknown key, it is the key it is near ("did you mean"), which the
// file then lacks.
func concerned(e string, nodes []node) []node {
	var out []node
	if m := unknownField.FindStringSubmatch(e); m != nil {
		near := nearest(m[2], yamlKeys(m[3]))
		for _, n := range nodes {
			if n.key != nil && lineOf(n.key) == m[1] && n.key.Value == m[2] && near != "" {
				n.field = strings.TrimSuffix(n.field, m[2]) + near
				out = append(out, n)
			}
		}
		return out
	}
	if m := wrongType.FindStringSubmatch(e); m != nil {
		kind := map[string]yaml.Kind{"map": yaml.MappingNode, "seq": yaml.SequenceNode}[m[2]]
		for _, n := range nodes {
			if lineOf(n.value) != m[1] {
				continue
			}
			short, cut := strings.CutSuffix(m[3], "...")
			if kind != 0 && n.value.Kind == kind || kind == 0 && n.value.Kind == yaml.ScalarNode &&
				(n.value.Value == m[3] || cut && strings.HasPrefix(n.value.Value, short)) {
				out = append(out, n)
			}
		}
		return out
	}
	if m := duplicate.FindStringSubmatch(e); m != nil {
		// yaml.v3 decodes nothing of a mapping with a key twice: its
		// section is the problem (the whole file, "", at the top).
		for _, n := range nodes {
			if n.key != nil && lineOf(n.key) == m[1] && n.key.Value == m[2] {
				n.field = strings.TrimSuffix(strings.TrimSuffix(n.field, m[2]), ".")
				out = append(out, n)
			}
		}
		return out
	}
	if m := pathsLine.FindStringSubmatch(e); m != nil {
		for _, n := range nodes {
			if n.key != nil && n.key.Value == "paths" && lineOf(n.value) == m[1] {
				out = append(out, n)
			}
		}
	}
	return out
}

func lineOf(n *yaml.Node) string { return fmt.Sprintf("line %d", n.Line) }

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
		switch {
		case want != "":
		case strings.HasPrefix(m[4], "[]"):
			want = "a list"
		default:
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

// dayProblem is a days value checkDays refuses.
type dayProblem struct {
	field    string
	node     *yaml.Node
	err      error
	overflow bool // too large or small for an int: yaml.v3 refuses it too
}

// checkDays refuses what yaml.v3 would turn into a number of days without
// a word: a fraction or exponent (1.5 becomes 1), an explicit 0, which the
// defaults would silently replace, and a number beyond an int, which
// yaml.v3 calls no whole number (or, negative, turns into another).
func checkDays(nodes []node) []dayProblem {
	var out []dayProblem
	for _, n := range nodes {
		if n.key == nil || n.key.Value != "days" || n.value.Kind != yaml.ScalarNode {
			continue
		}
		max, ok := maxDays(n.field)
		if err, overflow := checkDaysValue(n.field, n.value, max, ok); err != nil {
			out = append(out, dayProblem{field: n.field, node: n.value, err: err, overflow: overflow})
		}
	}
	return out
}

// maxDays is the upper bound Validate's CheckDays applies at field; ok is
// false where the config takes no days.
func maxDays(field string) (max int, ok bool) {
	switch field {
	case "ca.days":
		return MaxCADays, true
	case "root.days":
		return MaxRootDays, true
	case "transcript.days":
		return MaxTranscriptDays, true
	}
	if strings.HasPrefix(field, "repositories[") && strings.HasSuffix(field, "].days") {
		return MaxRepoDays, true
	}
	return 0, false
}

// checkDaysValue checks one days value; overflow says it is a whole number
// beyond an int.
func checkDaysValue(field string, v *yaml.Node, max int, ok bool) (err error, overflow bool) {
	if n, isInt := new(big.Int).SetString(strings.ReplaceAll(v.Value, "_", ""), 0); isInt && v.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 && !fitsInt(n) {
		switch {
		case !ok && field == "notary.targets_key.days":
			return fieldErr("notary.targets_key", "only label and key apply (no certificate is made for it)"), true
		case !ok:
			return nil, false // not a days field: the unknown key says so
		case n.Sign() > 0:
			return fieldErr(field, "%s is too large: days must be between 1 and %d", v.Value, max), true
		}
		return fieldErr(field, "%s is too small: days must be between 1 and %d", v.Value, max), true
	}
	switch v.ShortTag() {
	case "!!float":
		return fieldErr(field, "%s is not a whole number of days", v.Value), false
	case "!!int":
		if n, err := strconv.ParseInt(strings.ReplaceAll(v.Value, "_", ""), 0, 64); err == nil && n == 0 {
			return fieldErr(field, "0 days: give the validity in days (1 or more), or leave days out for the default"), false
		}
	}
	return nil, false
}

// fitsInt reports whether n is a Go int, what a days field decodes into.
func fitsInt(n *big.Int) bool {
	return n.IsInt64() && int64(int(n.Int64())) == n.Int64()
}
