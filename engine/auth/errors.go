package auth

import "errors"

// Errors returned by the package.
var (
	// ErrBadCredentials refuses a client with CONNACK code 0x04 (v5:
	// 0x86): unknown user, wrong password or SCRAM proof.
	ErrBadCredentials = errors.New("auth: bad user name or password")
	// ErrNotAuthorized refuses a client with CONNACK code 0x05 (v5:
	// 0x87): a malformed or out-of-sequence exchange, or a user name the
	// exchange did not authenticate.
	ErrNotAuthorized = errors.New("auth: not authorized")
	// ErrUsersFile wraps every error reading a users file.
	ErrUsersFile = errors.New("auth: bad users file")
)
