// Package names holds Notary's naming rules: repository names (GUNs),
// delegation roles and the server's URL. The config check, the ceremony's
// preflight and the Notary operations all call these, so a value is refused
// with the same line wherever it is met, and before any key exists. It holds
// no cgo, so the config can be checked on any machine.
package names

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"unicode"

	"github.com/distribution/reference"
	"github.com/theupdateframework/notary/tuf/data"
)

// MaxGUN is the longest GUN a ceremony can certify: notary requires the
// repository certificate's CN to equal the GUN, and RFC 5280's
// ub-common-name caps a CN at 64 characters (zlint's
// e_subject_common_name_max_length).
const MaxGUN = 64

// CheckGUN accepts a GUN as Docker Content Trust names repositories: the
// fully qualified, lowercase repository name docker derives from an image
// reference (github.com/distribution/reference), with no tag or digest, like
// docker.io/alice/nginx.
func CheckGUN(gun string) error {
	const like = "write it like docker.io/alice/nginx"
	if gun == "" {
		return fmt.Errorf("GUN is empty; %s", like)
	}
	if strings.ContainsFunc(gun, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("GUN %q contains a space or control character; %s", gun, like)
	}
	if lower := strings.ToLower(gun); lower != gun {
		return fmt.Errorf("GUN %q has uppercase letters, which docker refuses; write it as %q", gun, lower)
	}
	named, err := reference.ParseNormalizedNamed(gun)
	if errors.Is(err, reference.ErrReferenceInvalidFormat) {
		return fmt.Errorf("GUN %q is not a docker repository name: a registry host[:port], then path components of a-z and 0-9 joined by single '.', '_', '__' or '-'; %s", gun, like)
	}
	if err != nil {
		return fmt.Errorf("GUN %q is not a docker repository name (%v); %s", gun, err, like)
	}
	if err := nameOnly(gun, named); err != nil {
		return err
	}
	if named.Name() != gun {
		// docker looks trust data up under the full name, so a short one
		// would certify a repository no client ever asks for.
		return fmt.Errorf("GUN %q is not fully qualified; docker names this repository %q: write that", gun, named.Name())
	}
	if len(gun) > MaxGUN {
		return fmt.Errorf("GUN %q is %d characters; the repository certificate's CN must equal it and holds at most %d: choose a shorter repository name", gun, len(gun), MaxGUN)
	}
	return nil
}

// nameOnly refuses a reference with a tag or a digest: a GUN names the
// repository, and every tag in it shares the one trust data.
func nameOnly(gun string, named reference.Named) error {
	if _, ok := named.(reference.Tagged); ok {
		return fmt.Errorf("GUN %q names a tag; a GUN is the repository alone: write it as %q", gun, named.Name())
	}
	if _, ok := named.(reference.Digested); ok {
		return fmt.Errorf("GUN %q names a digest; a GUN is the repository alone: write it as %q", gun, named.Name())
	}
	return nil
}

// CheckRole accepts what notary accepts as a delegation role
// (data.IsDelegation): targets/ then a clean path of a-z, 0-9, '-', '_' and
// '/', 255 characters at most. The rest of the function only words the
// refusal.
func CheckRole(role string) error {
	if data.IsDelegation(data.RoleName(role)) {
		return nil
	}
	return fmt.Errorf("role %q is not a delegation role: %s", role, roleProblem(role))
}

// roleProblem says why notary refuses a role and how to name it instead.
func roleProblem(role string) string {
	const like = "like targets/releases"
	name, ok := strings.CutPrefix(role, "targets/")
	switch {
	case role == "" || role == "targets" || role == "targets/":
		return "name the delegate's role " + like
	case strings.ToLower(role) != role:
		return fmt.Sprintf("notary refuses uppercase; write it as %q", strings.ToLower(role))
	case !ok:
		return "delegation roles start with targets/, " + like
	case len(role) > 255:
		return fmt.Sprintf("it is %d characters and notary allows at most 255", len(role))
	case path.Clean(role) != role:
		return `it is not a clean path (no ".", "..", "//" or trailing "/"); name it ` + like
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyz0123456789-_/", r) }); i >= 0 {
		return fmt.Sprintf("it contains %q; notary allows only a-z, 0-9, '-', '_' and '/' after targets/", []rune(name[i:])[0])
	}
	return "notary refuses it; name it " + like
}

// CheckDelegation accepts a role the ceremony can delegate to: a notary
// delegation role directly under targets. Notary signs a new role into its
// parent with the parent's key, and the ceremony holds only the targets key,
// so targets/team/releases would fail at publish, after the irreversible
// steps.
func CheckDelegation(role string) error {
	if err := CheckRole(role); err != nil {
		return err
	}
	if parent := path.Dir(role); parent != "targets" {
		return fmt.Errorf("role %q is nested under %s, whose key the ceremony does not hold (it signs with the targets key); delegate %q instead", role, parent, "targets/"+path.Base(role))
	}
	return nil
}

// Releases is the delegation docker's client reads signed tags from, beside
// targets itself: `docker trust inspect` and a trusted pull see a tag only
// when targets or targets/releases signs it (docker/cli's
// matchReleasedSignatures), and name as its signers the other roles that
// signed the same digest.
const Releases = "targets/releases"

// SignerRoles is the rule for where a delegate's key goes: role itself, and
// for a docker signer (docker), targets/releases too, as `docker trust
// signer add NAME` does (targets/releases and targets/NAME), so that docker
// shows what the delegate signs, under its name. A key that goes into
// targets/releases needs every path (allPaths): docker's signers share that
// role with all paths, and notary joins the paths of everyone added to it,
// so a narrower list would not hold.
func SignerRoles(role string, docker, allPaths bool) ([]string, error) {
	if err := CheckDelegation(role); err != nil {
		return nil, err
	}
	roles := []string{role}
	if docker && role != Releases {
		roles = []string{Releases, role}
	}
	if roles[0] == Releases && !allPaths {
		return nil, fmt.Errorf("%s puts the key in %s, which docker's signers share with every path: give paths: all, as docker trust signer add does", role, Releases)
	}
	return roles, nil
}

// CheckServerURL accepts a notary server's URL as https://HOST[:PORT]. TLS
// is always verified, so http is refused; notary appends /v2/<gun>/... to
// the URL as a string, so a path, query or fragment would mangle every
// request; credentials would land in the transcript and logs.
func CheckServerURL(raw string) error {
	const like = "https://HOST[:PORT], like https://notary.example.com:4443"
	if raw == "" {
		return fmt.Errorf("the notary server URL is empty; give it as %s", like)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL
		}
		return fmt.Errorf("notary server URL %q does not parse (%v); give it as %s", raw, err, like)
	}
	fixed := "https://" + u.Host
	switch {
	case u.User != nil: // first, so that no other message shows a password
		return fmt.Errorf("notary server URL %q holds a user name or password, which would reach the transcript and logs; write it as %q", u.Redacted(), fixed)
	case u.Scheme != "https":
		return fmt.Errorf("notary server URL %q is not https: the server's TLS is always verified; give it as %s", raw, like)
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("notary server URL %q names no host; give it as %s", raw, like)
	case u.Path != "" && u.Path != "/":
		return fmt.Errorf("notary server URL %q has a path; notary adds /v2/<gun>/... itself: write it as %q", raw, fixed)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return fmt.Errorf("notary server URL %q has a query or fragment, which would mangle every request; write it as %q", raw, fixed)
	}
	return nil
}
