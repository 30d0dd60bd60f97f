/* ch_test_certs: throwaway certificates and keys for the TLS tests (never credentials): the server's, for
   127.0.0.1, and a client's for servers that require one. Valid until 2126. */
#ifndef CH_TEST_CERTS_H
#define CH_TEST_CERTS_H

/* A throwaway test-only certificate and key (P-256, CN and SAN 127.0.0.1, valid until 2126). Not a credential. */
static const char test_cert[] __attribute__((unused)) =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmjCCAUGgAwIBAgIUQulp28QKfyCA+mlQYgLvRUY8X5wwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyODAwMTA0NloYDzIxMjYxMTA0\n"
    "MDAxMDQ2WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAASIh1pAdS6Poc/iBQARFXprnULos33FRopW8ML5AP8Fct2hgtNaMxwg\n"
    "mOr+cnqtMtDbpIlI+KBf85EBG6aaNYDVo28wbTAdBgNVHQ4EFgQUwivoqM80zIkg\n"
    "93KFqiloYaCANXEwHwYDVR0jBBgwFoAUwivoqM80zIkg93KFqiloYaCANXEwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI\n"
    "zj0EAwIDRwAwRAIgMGoVV6XWXfzLjxuyIwlT4mIOanIkNeRm2DAqM+Jlw8ICIA5x\n"
    "Ww7qNmwY0pNKgAYXyn1z+RY5ePSWpnMVYzerIKHP\n"
    "-----END CERTIFICATE-----\n";
static const char test_key[] __attribute__((unused)) =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRo4k3+hvI9POuXcE\n"
    "DK8f0dHTCTqQaQ85MVXq91+fNnihRANCAASIh1pAdS6Poc/iBQARFXprnULos33F\n"
    "RopW8ML5AP8Fct2hgtNaMxwgmOr+cnqtMtDbpIlI+KBf85EBG6aaNYDV\n"
    "-----END PRIVATE KEY-----\n";

/* A throwaway self-signed client certificate (P-256, CN ch-test-client, clientAuth, valid until 2126): the mTLS
   server trusts it as its own CA. Not a credential. */
static const char client_cert[] __attribute__((unused)) =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBnjCCAUSgAwIBAgIULPtSLSszgJSxOiw08tCibuqGS2MwCgYIKoZIzj0EAwIw\n"
    "GTEXMBUGA1UEAwwOY2gtdGVzdC1jbGllbnQwIBcNMjYxMjA3MDkzOTQ5WhgPMjEy\n"
    "NjExMTMwOTM5NDlaMBkxFzAVBgNVBAMMDmNoLXRlc3QtY2xpZW50MFkwEwYHKoZI\n"
    "zj0CAQYIKoZIzj0DAQcDQgAEWI3LAxU0Wx3JXttIzwKBi/G012gb+dUdcK8nFE01\n"
    "dW+lHRpZ+Jrz7bQSqFyIUo7hIOlQdZEUSFiFYTj6Fox3BaNoMGYwHQYDVR0OBBYE\n"
    "FHQhTAY4VowG/w96cndHQDx9uCUaMB8GA1UdIwQYMBaAFHQhTAY4VowG/w96cndH\n"
    "QDx9uCUaMBMGA1UdJQQMMAoGCCsGAQUFBwMCMA8GA1UdEwEB/wQFMAMBAf8wCgYI\n"
    "KoZIzj0EAwIDSAAwRQIhALfbaCoBzJUpF8xscLtBRM4K/HpAHNHiuCpGecL6vbIW\n"
    "AiAN17lgd1udY9D4eU/qBawHy/6qDrm65+Vy8KhRKqmfhg==\n"
    "-----END CERTIFICATE-----\n";
static const char client_key[] __attribute__((unused)) =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIh88nyCv89uOpHfz\n"
    "9GVhFPo16tlbX2h0X4kBw1VSA+ShRANCAARYjcsDFTRbHcle20jPAoGL8bTXaBv5\n"
    "1R1wrycUTTV1b6UdGln4mvPttBKoXIhSjuEg6VB1kRRIWIVhOPoWjHcF\n"
    "-----END PRIVATE KEY-----\n";

#endif /* CH_TEST_CERTS_H */
