package testenv

import "github.com/ceremony-dev/ceremony/internal/scratch"

// Accounts are the token issuer's accounts the production tests share,
// one per kind of user a registry's token auth knows.
type Accounts struct {
	Owner    scratch.TokenUser // the repositories' owner: may rotate keys ('*')
	Delegate scratch.TokenUser // a delegate: publishes its tags (push, pull)
	Reader   scratch.TokenUser // reads only (pull)
}

// TokenAccounts is the shared set; the passwords are the tests' own.
func TokenAccounts() Accounts {
	return Accounts{
		Owner:    scratch.TokenUser{Name: "owner", Password: "owner-test-pw", Actions: []string{"*"}},
		Delegate: scratch.TokenUser{Name: "delegate", Password: "delegate-test-pw", Actions: []string{"push", "pull"}},
		Reader:   scratch.TokenUser{Name: "reader", Password: "reader-test-pw", Actions: []string{"pull"}},
	}
}

// List is every account, for scratch.ProductionOptions.Users.
func (a Accounts) List() []scratch.TokenUser {
	return []scratch.TokenUser{a.Owner, a.Delegate, a.Reader}
}
