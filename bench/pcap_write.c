/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcap_write.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_SNAPLEN 65535u
#define PCAP_LINKTYPE_ETHERNET 1u
/* Large stdio buffer: records are small and a run writes millions of them. */
#define PCAP_BUF_SIZE (1u << 20)

struct sl_pcap {
	FILE *f;
	char *buf;         /* stdio buffer, owned, freed after fclose() */
	uint64_t packets;
	int err;           /* first write error, as a positive errno */
};

static void
put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int
sl_pcap_open(const char *path, struct sl_pcap **ret_pcap)
{
	uint8_t hdr[24];
	struct sl_pcap *p;
	int rc;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->buf = malloc(PCAP_BUF_SIZE);
	if (p->buf == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	p->f = fopen(path, "wb");
	if (p->f == NULL) {
		rc = -errno;
		goto err;
	}
	setvbuf(p->f, p->buf, _IOFBF, PCAP_BUF_SIZE);

	put_le32(hdr, PCAP_MAGIC_US);
	put_le16(hdr + 4, 2);
	put_le16(hdr + 6, 4);
	put_le32(hdr + 8, 0);   /* thiszone */
	put_le32(hdr + 12, 0);  /* sigfigs */
	put_le32(hdr + 16, PCAP_SNAPLEN);
	put_le32(hdr + 20, PCAP_LINKTYPE_ETHERNET);
	if (fwrite(hdr, sizeof(hdr), 1, p->f) != 1) {
		rc = -errno;
		goto err;
	}
	*ret_pcap = p;
	return 0;
err:
	sl_pcap_close(p);
	return rc;
}

int
sl_pcap_write(struct sl_pcap *p, uint64_t ts_us, const uint8_t *frame, uint32_t len)
{
	uint8_t rec[16];

	assert(len <= PCAP_SNAPLEN);
	put_le32(rec, (uint32_t)(ts_us / 1000000));
	put_le32(rec + 4, (uint32_t)(ts_us % 1000000));
	put_le32(rec + 8, len);
	put_le32(rec + 12, len);
	if (fwrite(rec, sizeof(rec), 1, p->f) != 1 || fwrite(frame, len, 1, p->f) != 1) {
		if (p->err == 0)
			p->err = errno != 0 ? errno : EIO;
		return -p->err;
	}
	p->packets++;
	return 0;
}

uint64_t
sl_pcap_packets(const struct sl_pcap *p)
{
	return p->packets;
}

int
sl_pcap_close(struct sl_pcap *p)
{
	int rc = 0;

	if (p == NULL)
		return 0;
	if (p->f != NULL) {
		if (fflush(p->f) != 0 || ferror(p->f))
			rc = errno != 0 ? errno : EIO;
		if (fclose(p->f) != 0 && rc == 0)
			rc = errno;
	}
	if (p->err != 0)
		rc = p->err;
	free(p->buf);
	free(p);
	return -rc;
}

/* One's-complement sum of big-endian 16-bit words, not yet folded. */
static uint32_t
csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t
sl_udp4_headers_fill(uint8_t *frame, const struct sl_udp4_addr *a, uint32_t payload_len)
{
	uint8_t *ip = frame + 14;
	uint8_t *udp = ip + 20;
	uint32_t udp_len = 8 + payload_len;
	uint32_t sum;
	uint16_t c;

	assert(payload_len <= 65507);
	memcpy(frame, a->dst_mac, 6);
	memcpy(frame + 6, a->src_mac, 6);
	put_be16(frame + 12, 0x0800);

	ip[0] = 0x45;                    /* version 4, 20-byte header */
	ip[1] = 0;                       /* DSCP/ECN */
	put_be16(ip + 2, (uint16_t)(20 + udp_len));
	put_be16(ip + 4, a->ip_id);
	put_be16(ip + 6, 0x4000);        /* DF, fragment offset 0 */
	ip[8] = 64;                      /* TTL */
	ip[9] = 17;                      /* UDP */
	put_be16(ip + 10, 0);
	put_be32(ip + 12, a->src_ip);
	put_be32(ip + 16, a->dst_ip);
	put_be16(ip + 10, csum_fold(csum_add(0, ip, 20)));

	put_be16(udp, a->src_port);
	put_be16(udp + 2, a->dst_port);
	put_be16(udp + 4, (uint16_t)udp_len);
	put_be16(udp + 6, 0);
	/* Pseudo-header: addresses, protocol, UDP length; then header and payload. */
	sum = csum_add(0, ip + 12, 8);
	sum += 17 + udp_len;
	sum = csum_add(sum, udp, udp_len);
	c = csum_fold(sum);
	put_be16(udp + 6, c == 0 ? 0xffff : c);
	return SL_UDP4_HDR_LEN + payload_len;
}
