/**
 * A self-signed certificate for localhost and 127.0.0.1 (EC P-256, valid until 2126), for test servers
 * that speak TLS. Test material only: the key is public, nothing trusts it.
 */
export const TEST_TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0Ojp21aB9JHnXte5
VrjBXnR3+x51ybjVRLNRCbbOasOhRANCAATb+CAbIqjxhvlpYRfRVxj8xXXdP2+L
HNh5TSRUeqehnhgRIlEc588fQ8TgFhjWWKj4b7mndl742miQlw/DBuWc
-----END PRIVATE KEY-----
`;

export const TEST_TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUdTfsE3W1ELt6saCF/wi+rbHMpDAwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTE3NDIyNVoYDzIxMjYxMDI4
MTc0MjI1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATb+CAbIqjxhvlpYRfRVxj8xXXdP2+LHNh5TSRUeqehnhgRIlEc588f
Q8TgFhjWWKj4b7mndl742miQlw/DBuWco28wbTAdBgNVHQ4EFgQUp90WNworsPHe
WQNg4N7YDuygBLgwHwYDVR0jBBgwFoAUp90WNworsPHeWQNg4N7YDuygBLgwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAMLc5ZIuHo6UlbSPjqu9vuGy+lLMnko+a0qX70zD1rqgAiBS
UBsW6l8Qxe+5wFgcu8JdR4TwOKDq7oPcLctKUavRhQ==
-----END CERTIFICATE-----
`;
