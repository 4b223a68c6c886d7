package trust

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"
)

// ErrWrongPassphrase: the passphrase does not open the key file.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// maxKDFRounds bounds the PBKDF2 iterations a key file may ask for: openssl
// and notary use 2048, step 100000; a crafted file asking for 2^31 would
// hang the command for hours.
const maxKDFRounds = 10_000_000

// parsePrivateKeyPEM reads the first PEM block of a private key file in any
// form a delegate's tools write: PKCS#8 plain or encrypted (PBES2 with
// PBKDF2 over HMAC-SHA1, as notary and docker write it, or HMAC-SHA256, as
// OpenSSL 3 does by default), SEC 1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE
// KEY", plain or with legacy Proc-Type encryption. Headers such as notary's
// role: and gun: are ignored. notary's own parser knows only HMAC-SHA1 and
// AES-256, and took an OpenSSL 3 key for a wrong passphrase. (Read with the
// standard library: go.step.sm/crypto/pemutil does the same, but its module
// drags etcd, trillian and grpc into go.sum.)
func parsePrivateKeyPEM(pemBytes, passphrase []byte) (data.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block: the file is not a PEM private key")
	}
	der := block.Bytes
	encrypted := block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED"
	if encrypted {
		if len(passphrase) == 0 {
			return nil, errors.New("the key file is encrypted: give its passphrase")
		}
		var err error
		if der, err = decryptPEM(block, passphrase); err != nil {
			return nil, err
		}
		defer clear(der)
	}
	key, err := parseDER(block.Type, der)
	if err != nil && encrypted {
		// CBC padding catches most wrong passphrases, not all: the rest
		// decrypt to noise that does not parse.
		return nil, ErrWrongPassphrase
	}
	if err != nil {
		return nil, err
	}
	return tufKey(key)
}

// checkPrivateKeyPEM is what parsePrivateKeyPEM can tell before the
// passphrase: the first PEM block is a private key (a plain one parses).
func checkPrivateKeyPEM(pemBytes []byte) error {
	block, _ := pem.Decode(pemBytes)
	switch {
	case block == nil:
		return errors.New("no PEM block: the file is not a PEM private key")
	case block.Type == "ENCRYPTED PRIVATE KEY", block.Headers["Proc-Type"] == "4,ENCRYPTED" && strings.HasSuffix(block.Type, "PRIVATE KEY"):
		return nil
	}
	_, err := parseDER(block.Type, block.Bytes)
	return err
}

func parseDER(typ string, der []byte) (any, error) {
	switch typ {
	case "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(der)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(der)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(der)
	case "PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("the file holds a %s, not the private key: give the private key file", typ)
	}
	return nil, fmt.Errorf("PEM block %q is not a private key", typ)
}

// tufKey is key as notary's data.PrivateKey, whose ID is the canonical key
// ID the delegation lists.
func tufKey(key any) (data.PrivateKey, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return utils.ECDSAToPrivateKey(k)
	case *rsa.PrivateKey:
		return utils.RSAToPrivateKey(k)
	case ed25519.PrivateKey:
		// notary's layout: public key, then Go's private key.
		return utils.ED25519ToPrivateKey(append(append([]byte{}, k.Public().(ed25519.PublicKey)...), k...))
	}
	return nil, fmt.Errorf("unsupported key type %T: use ECDSA, RSA or Ed25519", key)
}

// PKCS#5 v2 identifiers (RFC 8018).
var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

type algorithmID struct {
	OID    asn1.ObjectIdentifier
	Params asn1.RawValue `asn1:"optional"`
}

type encryptedPKCS8 struct {
	Algo algorithmID
	Data []byte
}

type pbes2Params struct {
	KDF struct {
		OID    asn1.ObjectIdentifier
		Params struct {
			Salt      []byte
			Rounds    int
			KeyLength int         `asn1:"optional"`
			PRF       algorithmID `asn1:"optional"`
		}
	}
	Cipher struct {
		OID asn1.ObjectIdentifier
		IV  []byte
	}
}

// decryptPEM opens an encrypted block: PKCS#8 PBES2 (PBKDF2, AES-CBC) or
// the legacy Proc-Type form.
func decryptPEM(block *pem.Block, passphrase []byte) ([]byte, error) {
	if block.Type != "ENCRYPTED PRIVATE KEY" {
		der, err := x509.DecryptPEMBlock(block, passphrase) //nolint:staticcheck // legacy files are what they are
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, ErrWrongPassphrase
		}
		return der, err
	}
	var info encryptedPKCS8
	if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY is not PKCS#8: %w", err)
	}
	var a pbes2Params
	if info.Algo.OID.Equal(oidPBES2) {
		if _, err := asn1.Unmarshal(info.Algo.Params.FullBytes, &a); err != nil {
			return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: malformed PBES2 parameters: %w", err)
		}
	}
	if !info.Algo.OID.Equal(oidPBES2) || !a.KDF.OID.Equal(oidPBKDF2) {
		return nil, errors.New("ENCRYPTED PRIVATE KEY: only PBES2 with PBKDF2 is read; re-encrypt it with openssl pkcs8 -topk8 -v2 aes-256-cbc")
	}
	kdf := a.KDF.Params
	if kdf.Rounds < 1 || kdf.Rounds > maxKDFRounds {
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY asks for %d PBKDF2 rounds; at most %d are accepted", kdf.Rounds, maxKDFRounds)
	}
	var size int
	switch c := a.Cipher.OID; {
	case c.Equal(oidAES128CBC):
		size = 16
	case c.Equal(oidAES192CBC):
		size = 24
	case c.Equal(oidAES256CBC):
		size = 32
	default:
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: cipher %v is not read; re-encrypt it with openssl pkcs8 -topk8 -v2 aes-256-cbc", c)
	}
	if len(a.Cipher.IV) != aes.BlockSize || len(info.Data) == 0 || len(info.Data)%aes.BlockSize != 0 {
		return nil, errors.New("ENCRYPTED PRIVATE KEY: malformed AES-CBC data")
	}
	var key []byte
	var err error
	switch prf := kdf.PRF.OID; {
	case len(prf) == 0 || prf.Equal(oidHMACSHA1): // the default; notary and docker write it
		key, err = pbkdf2.Key(sha1.New, string(passphrase), kdf.Salt, kdf.Rounds, size)
	case prf.Equal(oidHMACSHA256): // OpenSSL 3's default
		key, err = pbkdf2.Key(sha256.New, string(passphrase), kdf.Salt, kdf.Rounds, size)
	case prf.Equal(oidHMACSHA384):
		key, err = pbkdf2.Key(sha512.New384, string(passphrase), kdf.Salt, kdf.Rounds, size)
	case prf.Equal(oidHMACSHA512):
		key, err = pbkdf2.Key(sha512.New, string(passphrase), kdf.Salt, kdf.Rounds, size)
	default:
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: PBKDF2 PRF %v is not read; re-encrypt it with openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256", prf)
	}
	if err != nil {
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: %w", err)
	}
	defer clear(key)
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(c, a.Cipher.IV).CryptBlocks(out, info.Data)
	// PKCS#7 padding; a wrong passphrase almost always breaks it.
	pad := int(out[len(out)-1])
	if pad < 1 || pad > aes.BlockSize || !bytes.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		clear(out)
		return nil, ErrWrongPassphrase
	}
	return out[:len(out)-pad], nil
}
