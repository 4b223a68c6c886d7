package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// baseTemplate fills what every profile shares: serial, validity, SKI,
// basic constraints (critical; CA:FALSE unless the profile sets IsCA) and
// the signature algorithm of the issuer's key.
func baseTemplate(req Request, defaultDays int, subjectPub, issuerPub crypto.PublicKey) (*x509.Certificate, error) {
	if req.Rand == nil {
		return nil, errors.New("no random source for the serial number (Request.Rand)")
	}
	serial, err := newSerial(req.Rand)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter, err := req.validity(defaultDays)
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(subjectPub)
	if err != nil {
		return nil, err
	}
	alg, err := signatureAlgorithm(issuerPub)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		SubjectKeyId:          ski,
		BasicConstraintsValid: true,
		SignatureAlgorithm:    alg,
	}, nil
}

// newSerial reads 128 bits from r and prefixes 0x01, so the serial is
// positive, never zero, and always 17 bytes long (RFC 5280 allows 20).
func newSerial(r io.Reader) (*big.Int, error) {
	b := make([]byte, 17)
	b[0] = 0x01
	if _, err := io.ReadFull(r, b[1:]); err != nil {
		return nil, fmt.Errorf("read serial number: %w", err)
	}
	return new(big.Int).SetBytes(b), nil
}

// subjectKeyID is RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256
// of the subjectPublicKey BIT STRING. Not RFC 5280's SHA-1 method: no SHA-1
// anywhere in these certificates.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("subject public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("subject public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// signatureAlgorithm picks the signature for a signing key: SHA-256 for RSA
// (PKCS#1 v1.5, which every PKCS#11 token does) and P-256 (the seed's -sha256),
// and the hash matching the curve for P-384 and P-521 (RFC 5480 §4; Mozilla
// policy forbids P-384 with SHA-256). No SHA-1, no other key types.
func signatureAlgorithm(pub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return x509.SHA256WithRSA, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return x509.ECDSAWithSHA256, nil
		case elliptic.P384():
			return x509.ECDSAWithSHA384, nil
		case elliptic.P521():
			return x509.ECDSAWithSHA512, nil
		}
		return 0, fmt.Errorf("unsupported signing curve %s (want P-256, P-384 or P-521)", k.Curve.Params().Name)
	}
	return 0, fmt.Errorf("unsupported signing key type %T (want RSA or ECDSA)", pub)
}

// throwawayKey makes a software key of the same algorithm and size as pub,
// to sign the lint certificate. Host randomness is fine here: the key signs
// nothing anyone will trust and is dropped at once.
func throwawayKey(pub crypto.PublicKey) (crypto.Signer, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return rsa.GenerateKey(rand.Reader, k.N.BitLen())
	case *ecdsa.PublicKey:
		return ecdsa.GenerateKey(k.Curve, rand.Reader)
	}
	return nil, fmt.Errorf("unsupported signing key type %T", pub)
}

// failReader is the randomness given to x509.CreateCertificate(Request) for
// the real signature. A token signer makes its own randomness and ignores it,
// and Go 1.26's software ECDSA and RSA PKCS#1 v1.5 keys ignore it too; any
// other signer that would draw on it fails loudly instead of quietly using
// the host's RNG (as boulder's ceremony does).
type failReader struct{}

func (failReader) Read([]byte) (int, error) {
	return 0, errors.New("pki: host randomness must not be used for signing")
}

// issue signs tmpl over pub with signer, the careful way. issuer is the
// issuing CA certificate, or nil for a self-signed certificate (tmpl is its
// own parent and pub is signer's key).
//
//  1. sign tmpl with a throwaway key of the same type under a fake issuer
//     with the real issuer's subject and SKI, and lint that certificate;
//  2. only if the lint is clean, sign with the real signer;
//  3. check the signature, that the TBSCertificate is the linted one byte for
//     byte, and lint the real certificate again.
func issue(ctx context.Context, tmpl, issuer *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lintKey, err := throwawayKey(signer.Public())
	if err != nil {
		return nil, err
	}
	selfSigned := issuer == nil
	lintParent := tmpl
	if !selfSigned {
		// Everything of the issuer that x509.CreateCertificate copies into
		// the TBS: its subject (raw when parsed, to keep its string
		// encodings) and its SKI (the AKI). The key is the throwaway's.
		lintParent = &x509.Certificate{
			Subject:      issuer.Subject,
			RawSubject:   issuer.RawSubject,
			SubjectKeyId: issuer.SubjectKeyId,
			PublicKey:    lintKey.Public(),
		}
	}
	lintDER, err := x509.CreateCertificate(rand.Reader, tmpl, lintParent, pub, lintKey)
	if err != nil {
		return nil, fmt.Errorf("make lint certificate: %w", err)
	}
	reg, err := lints()
	if err != nil {
		return nil, err
	}
	lintTBS, err := lintDERCert(lintDER, reg, selfSigned)
	if err != nil {
		return nil, fmt.Errorf("pre-issuance %w", err)
	}

	// The signer may be an HSM: last chance to give up before using it.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	parent := issuer
	if selfSigned {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(failReader{}, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse signed certificate: %w", err)
	}
	if selfSigned {
		// Not CheckSignatureFrom(cert): it refuses a non-CA parent, and the
		// root certificate is CA:FALSE.
		err = cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature)
	} else {
		err = cert.CheckSignatureFrom(issuer)
	}
	if err != nil {
		return nil, fmt.Errorf("signature of the signed certificate: %w", err)
	}
	if !bytes.Equal(cert.RawTBSCertificate, lintTBS) {
		return nil, errors.New("signed TBSCertificate differs from the linted one")
	}
	if _, err := lintDERCert(der, reg, false); err != nil {
		return nil, fmt.Errorf("post-issuance %w", err)
	}
	return cert, nil
}
