/* cri.c - CRI client: gRPC over HTTP/2 over a unix socket with libcurl, and
 * protobuf-c for the messages (sensor/cri_proto/cri.proto).
 *
 * A unary gRPC call is one HTTP/2 POST to /<package>.<Service>/<Method> with
 * content-type application/grpc and "te: trailers". Both ways the body is one
 * message behind a 5-byte prefix (compressed flag, big-endian length). The
 * outcome is in the grpc-status / grpc-message trailers, or in the headers
 * for "Trailers-Only" error replies; libcurl hands us both through the
 * header callback. */
#include "cri.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cri_proto/cri.pb-c.h"
#include "log.h"

#define DEFAULT_TIMEOUT_MS 2000
#define API_V1 "runtime.v1"
#define API_V1ALPHA2 "runtime.v1alpha2"
#define GRPC_NOT_FOUND 5
#define GRPC_UNIMPLEMENTED 12

static const char *const well_known_sockets[] = {
	"/run/containerd/containerd.sock",
	"/var/run/containerd/containerd.sock",
	"/run/crio/crio.sock",
	"/var/run/crio/crio.sock",
	"/run/cri-dockerd.sock",
	"/var/run/cri-dockerd.sock",
};

struct reply {
	uint8_t *body;
	size_t len, cap;
	bool too_big;
	bool have_status;
	int grpc_status;
	char grpc_message[256];
	char content_type[64];
};

struct cri_client {
	CURL *curl;
	char socket[108]; /* sun_path size */
	bool socket_explicit;
	bool v1alpha2;    /* the runtime only serves the older API */
	bool api_settled; /* a call succeeded with the current API */
	unsigned timeout_ms;
	uint64_t last_latency_us;
	char error[320];
	struct reply reply;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;

static void curl_init_once(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

const char *cri_error_name(int err)
{
	switch (err) {
	case CRI_OK:
		return "ok";
	case CRI_ERR_TRANSPORT:
		return "transport";
	case CRI_ERR_NOT_FOUND:
		return "not found";
	case CRI_ERR_RPC:
		return "rpc error";
	case CRI_ERR_PROTO:
		return "malformed reply";
	case CRI_ERR_ARG:
		return "bad argument";
	}
	return "unknown error";
}

static void set_err(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!err || !size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

void cri_copy_str(char *dst, size_t size, const char *src)
{
	size_t n;

	if (!size)
		return;
	if (!src)
		src = "";
	n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- labels ------------------------------------------------------------ */

int cri_labels_add(struct cri_labels *l, const char *key, const char *value)
{
	size_t kn, vn;

	if (!key || !*key || strchr(key, '=')) {
		l->truncated = true;
		return -1;
	}
	if (!value)
		value = "";
	kn = strlen(key);
	vn = strlen(value);
	if (kn + 1 + vn + 1 > sizeof(l->buf) - l->used) {
		l->truncated = true;
		return -1;
	}
	memcpy(l->buf + l->used, key, kn);
	l->buf[l->used + kn] = '=';
	memcpy(l->buf + l->used + kn + 1, value, vn + 1);
	l->used += (unsigned)(kn + 1 + vn + 1);
	l->n++;
	return 0;
}

const char *cri_labels_next(const struct cri_labels *l, const char *prev)
{
	const char *p;

	if (!prev)
		return l->used ? l->buf : NULL;
	p = prev + strlen(prev) + 1;
	if (p < l->buf || p >= l->buf + l->used)
		return NULL;
	return p;
}

const char *cri_labels_get(const struct cri_labels *l, const char *key)
{
	size_t kn = strlen(key);

	for (const char *kv = cri_labels_next(l, NULL); kv;
	     kv = cri_labels_next(l, kv))
		if (strncmp(kv, key, kn) == 0 && kv[kn] == '=')
			return kv + kn + 1;
	return NULL;
}

/* ---- image references -------------------------------------------------- */

void cri_split_image(const char *ref, char *name, size_t name_size, char *tag,
		     size_t tag_size, char *digest, size_t digest_size)
{
	const char *at, *slash, *colon;
	size_t name_len;

	cri_copy_str(name, name_size, "");
	cri_copy_str(tag, tag_size, "");
	cri_copy_str(digest, digest_size, "");
	if (!ref || !*ref)
		return;
	if (strncmp(ref, "sha256:", 7) == 0) {
		cri_copy_str(digest, digest_size, ref);
		return;
	}
	at = strchr(ref, '@');
	name_len = at ? (size_t)(at - ref) : strlen(ref);
	if (at)
		cri_copy_str(digest, digest_size, at + 1);

	/* The tag separator is the last ':' after the last '/', so a registry
	 * port ("host:5000/repo") is not taken for a tag. */
	slash = memrchr(ref, '/', name_len);
	colon = memrchr(slash ? slash : ref, ':',
			name_len - (size_t)((slash ? slash : ref) - ref));
	if (colon) {
		size_t tn = name_len - (size_t)(colon + 1 - ref);

		if (tag_size) {
			if (tn >= tag_size)
				tn = tag_size - 1;
			memcpy(tag, colon + 1, tn);
			tag[tn] = '\0';
		}
		name_len = (size_t)(colon - ref);
	} else if (!at) {
		cri_copy_str(tag, tag_size, "latest");
	}
	if (name_size) {
		if (name_len >= name_size)
			name_len = name_size - 1;
		memcpy(name, ref, name_len);
		name[name_len] = '\0';
	}
}

/* ---- decoding ----------------------------------------------------------- */

int cri_grpc_unframe(const uint8_t *body, size_t len, const uint8_t **msg,
		     size_t *msg_len, char *err, size_t err_size)
{
	uint32_t n;

	if (!body || len < 5) {
		set_err(err, err_size, "reply body of %zu bytes: shorter than a gRPC frame header",
			body ? len : 0);
		return CRI_ERR_PROTO;
	}
	if (body[0] != 0) {
		set_err(err, err_size, "reply frame flag 0x%02x: compressed or unknown, not supported", body[0]);
		return CRI_ERR_PROTO;
	}
	n = (uint32_t)body[1] << 24 | (uint32_t)body[2] << 16 |
	    (uint32_t)body[3] << 8 | (uint32_t)body[4];
	if ((size_t)n != len - 5) {
		set_err(err, err_size, "reply frame says %u bytes, body has %zu after the header", n, len - 5);
		return CRI_ERR_PROTO;
	}
	*msg = body + 5;
	*msg_len = n;
	return CRI_OK;
}

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *desc,
				const uint8_t *body, size_t len, char *err,
				size_t err_size)
{
	const uint8_t *msg;
	size_t n;
	ProtobufCMessage *m;

	if (cri_grpc_unframe(body, len, &msg, &n, err, err_size) != CRI_OK)
		return NULL;
	m = protobuf_c_message_unpack(desc, NULL, n, msg);
	if (!m)
		set_err(err, err_size, "reply is not a valid %s (%zu bytes)", desc->name, n);
	return m;
}

/* Container and sandbox ids are 64 hex for every CRI runtime we know; an id
 * that would not fit is refused rather than silently truncated into a
 * different id. */
static bool id_fits(const char *id)
{
	return id && *id && strlen(id) < CRI_ID_SIZE;
}

/* Pulls "pid" and "runtimeSpec.linux.cgroupsPath" out of the JSON that
 * containerd and CRI-O put in info["info"] of verbose status replies. */
static void parse_verbose_info(const char *json, uint32_t *pid, char *cgroups,
			       size_t cgroups_size)
{
	cJSON *root, *p, *spec, *linux_spec, *cg;

	if (!json)
		return;
	root = cJSON_Parse(json);
	if (!root)
		return;
	p = cJSON_GetObjectItemCaseSensitive(root, "pid");
	if (cJSON_IsNumber(p) && p->valuedouble > 0 && p->valuedouble < 4294967296.0)
		*pid = (uint32_t)p->valuedouble;
	spec = cJSON_GetObjectItemCaseSensitive(root, "runtimeSpec");
	linux_spec = cJSON_GetObjectItemCaseSensitive(spec, "linux");
	cg = cJSON_GetObjectItemCaseSensitive(linux_spec, "cgroupsPath");
	if (cgroups && cJSON_IsString(cg))
		cri_copy_str(cgroups, cgroups_size, cg->valuestring);
	cJSON_Delete(root);
}

static enum cri_container_state container_state(int s)
{
	switch (s) {
	case CRI__CONTAINER_STATE__CONTAINER_CREATED:
		return CRI_CONTAINER_CREATED;
	case CRI__CONTAINER_STATE__CONTAINER_RUNNING:
		return CRI_CONTAINER_RUNNING;
	case CRI__CONTAINER_STATE__CONTAINER_EXITED:
		return CRI_CONTAINER_EXITED;
	}
	return CRI_CONTAINER_UNKNOWN;
}

static void from_container(const Cri__Container *in, struct cri_container *out)
{
	memset(out, 0, sizeof(*out));
	cri_copy_str(out->id, sizeof(out->id), in->id);
	cri_copy_str(out->pod_sandbox_id, sizeof(out->pod_sandbox_id), in->pod_sandbox_id);
	if (in->metadata) {
		cri_copy_str(out->name, sizeof(out->name), in->metadata->name);
		out->attempt = in->metadata->attempt;
	}
	if (in->image)
		cri_copy_str(out->image, sizeof(out->image), in->image->image);
	cri_copy_str(out->image_ref, sizeof(out->image_ref), in->image_ref);
	out->state = container_state(in->state);
	out->created_at_ns = in->created_at;
	for (size_t i = 0; i < in->n_labels; i++)
		if (in->labels[i])
			cri_labels_add(&out->labels, in->labels[i]->key, in->labels[i]->value);
}

static void from_pod_metadata(const Cri__PodSandboxMetadata *md, struct cri_pod *out)
{
	if (!md)
		return;
	cri_copy_str(out->name, sizeof(out->name), md->name);
	cri_copy_str(out->namespace, sizeof(out->namespace), md->namespace_);
	cri_copy_str(out->uid, sizeof(out->uid), md->uid);
	out->attempt = md->attempt;
}

int cri_decode_version(const uint8_t *body, size_t len, struct cri_version *out,
		       char *err, size_t err_size)
{
	Cri__VersionResponse *r = (Cri__VersionResponse *)unpack(
		&cri__version_response__descriptor, body, len, err, err_size);

	if (!r)
		return CRI_ERR_PROTO;
	memset(out, 0, sizeof(*out));
	cri_copy_str(out->version, sizeof(out->version), r->version);
	cri_copy_str(out->runtime_name, sizeof(out->runtime_name), r->runtime_name);
	cri_copy_str(out->runtime_version, sizeof(out->runtime_version), r->runtime_version);
	cri_copy_str(out->runtime_api_version, sizeof(out->runtime_api_version),
		 r->runtime_api_version);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return CRI_OK;
}

int cri_decode_list_containers(const uint8_t *body, size_t len,
			       struct cri_container_list *out, char *err,
			       size_t err_size)
{
	Cri__ListContainersResponse *r;
	size_t want;

	memset(out, 0, sizeof(*out));
	r = (Cri__ListContainersResponse *)unpack(
		&cri__list_containers_response__descriptor, body, len, err, err_size);
	if (!r)
		return CRI_ERR_PROTO;
	want = r->n_containers;
	if (want > CRI_MAX_ITEMS) {
		out->skipped = want - CRI_MAX_ITEMS;
		want = CRI_MAX_ITEMS;
	}
	if (want) {
		out->items = calloc(want, sizeof(*out->items));
		if (!out->items) {
			set_err(err, err_size, "out of memory for %zu containers", want);
			protobuf_c_message_free_unpacked(&r->base, NULL);
			return CRI_ERR_PROTO;
		}
	}
	for (size_t i = 0; i < want; i++) {
		const Cri__Container *c = r->containers[i];

		if (!c || !id_fits(c->id)) {
			out->skipped++;
			continue;
		}
		from_container(c, &out->items[out->n++]);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return CRI_OK;
}

int cri_decode_container_status(const uint8_t *body, size_t len,
				struct cri_container *out, char *err,
				size_t err_size)
{
	Cri__ContainerStatusResponse *r;
	const Cri__ContainerStatus *s;

	memset(out, 0, sizeof(*out));
	r = (Cri__ContainerStatusResponse *)unpack(
		&cri__container_status_response__descriptor, body, len, err, err_size);
	if (!r)
		return CRI_ERR_PROTO;
	s = r->status;
	if (!s || !id_fits(s->id)) {
		set_err(err, err_size, "ContainerStatus reply without a usable status/id");
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return CRI_ERR_PROTO;
	}
	cri_copy_str(out->id, sizeof(out->id), s->id);
	if (s->metadata) {
		cri_copy_str(out->name, sizeof(out->name), s->metadata->name);
		out->attempt = s->metadata->attempt;
	}
	if (s->image)
		cri_copy_str(out->image, sizeof(out->image), s->image->image);
	cri_copy_str(out->image_ref, sizeof(out->image_ref), s->image_ref);
	out->state = container_state(s->state);
	out->created_at_ns = s->created_at;
	out->started_at_ns = s->started_at;
	out->finished_at_ns = s->finished_at;
	out->exit_code = s->exit_code;
	for (size_t i = 0; i < s->n_labels; i++)
		if (s->labels[i])
			cri_labels_add(&out->labels, s->labels[i]->key, s->labels[i]->value);
	/* ContainerStatus has no pod_sandbox_id field; containerd and CRI-O
	 * give it in the verbose info, kubelet-style runtimes in a label. */
	cri_copy_str(out->pod_sandbox_id, sizeof(out->pod_sandbox_id),
		 cri_labels_get(&out->labels, "io.kubernetes.sandbox.id"));
	for (size_t i = 0; i < r->n_info; i++) {
		const Cri__ContainerStatusResponse__InfoEntry *e = r->info[i];
		cJSON *root, *sb;

		if (!e || !e->key || strcmp(e->key, "info") != 0)
			continue;
		parse_verbose_info(e->value, &out->pid, out->cgroups_path,
				   sizeof(out->cgroups_path));
		root = cJSON_Parse(e->value ? e->value : "");
		sb = cJSON_GetObjectItemCaseSensitive(root, "sandboxID");
		if (cJSON_IsString(sb) && id_fits(sb->valuestring))
			cri_copy_str(out->pod_sandbox_id, sizeof(out->pod_sandbox_id),
				 sb->valuestring);
		cJSON_Delete(root);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return CRI_OK;
}

int cri_decode_list_pods(const uint8_t *body, size_t len,
			 struct cri_pod_list *out, char *err, size_t err_size)
{
	Cri__ListPodSandboxResponse *r;
	size_t want;

	memset(out, 0, sizeof(*out));
	r = (Cri__ListPodSandboxResponse *)unpack(
		&cri__list_pod_sandbox_response__descriptor, body, len, err, err_size);
	if (!r)
		return CRI_ERR_PROTO;
	want = r->n_items;
	if (want > CRI_MAX_ITEMS) {
		out->skipped = want - CRI_MAX_ITEMS;
		want = CRI_MAX_ITEMS;
	}
	if (want) {
		out->items = calloc(want, sizeof(*out->items));
		if (!out->items) {
			set_err(err, err_size, "out of memory for %zu pods", want);
			protobuf_c_message_free_unpacked(&r->base, NULL);
			return CRI_ERR_PROTO;
		}
	}
	for (size_t i = 0; i < want; i++) {
		const Cri__PodSandbox *p = r->items[i];
		struct cri_pod *o;

		if (!p || !id_fits(p->id)) {
			out->skipped++;
			continue;
		}
		o = &out->items[out->n++];
		cri_copy_str(o->id, sizeof(o->id), p->id);
		from_pod_metadata(p->metadata, o);
		o->state = p->state == CRI__POD_SANDBOX_STATE__SANDBOX_READY ?
				   CRI_POD_READY : CRI_POD_NOTREADY;
		o->created_at_ns = p->created_at;
		cri_copy_str(o->runtime_handler, sizeof(o->runtime_handler), p->runtime_handler);
		for (size_t k = 0; k < p->n_labels; k++)
			if (p->labels[k])
				cri_labels_add(&o->labels, p->labels[k]->key, p->labels[k]->value);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return CRI_OK;
}

int cri_decode_pod_status(const uint8_t *body, size_t len, struct cri_pod *out,
			  char *err, size_t err_size)
{
	Cri__PodSandboxStatusResponse *r;
	const Cri__PodSandboxStatus *s;

	memset(out, 0, sizeof(*out));
	r = (Cri__PodSandboxStatusResponse *)unpack(
		&cri__pod_sandbox_status_response__descriptor, body, len, err, err_size);
	if (!r)
		return CRI_ERR_PROTO;
	s = r->status;
	if (!s || !id_fits(s->id)) {
		set_err(err, err_size, "PodSandboxStatus reply without a usable status/id");
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return CRI_ERR_PROTO;
	}
	cri_copy_str(out->id, sizeof(out->id), s->id);
	from_pod_metadata(s->metadata, out);
	out->state = s->state == CRI__POD_SANDBOX_STATE__SANDBOX_READY ?
			     CRI_POD_READY : CRI_POD_NOTREADY;
	out->created_at_ns = s->created_at;
	if (s->network)
		cri_copy_str(out->ip, sizeof(out->ip), s->network->ip);
	cri_copy_str(out->runtime_handler, sizeof(out->runtime_handler), s->runtime_handler);
	for (size_t i = 0; i < s->n_labels; i++)
		if (s->labels[i])
			cri_labels_add(&out->labels, s->labels[i]->key, s->labels[i]->value);
	for (size_t i = 0; i < r->n_info; i++)
		if (r->info[i] && r->info[i]->key && strcmp(r->info[i]->key, "info") == 0)
			parse_verbose_info(r->info[i]->value, &out->pid, NULL, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return CRI_OK;
}

int cri_decode_image_status(const uint8_t *body, size_t len,
			    struct cri_image *out, char *err, size_t err_size)
{
	Cri__ImageStatusResponse *r;

	memset(out, 0, sizeof(*out));
	r = (Cri__ImageStatusResponse *)unpack(
		&cri__image_status_response__descriptor, body, len, err, err_size);
	if (!r)
		return CRI_ERR_PROTO;
	/* An unknown image is a reply with no image in it, not a gRPC error. */
	if (!r->image) {
		set_err(err, err_size, "image not known to the runtime");
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return CRI_ERR_NOT_FOUND;
	}
	cri_copy_str(out->id, sizeof(out->id), r->image->id);
	if (r->image->n_repo_tags)
		cri_copy_str(out->repo_tag, sizeof(out->repo_tag), r->image->repo_tags[0]);
	if (r->image->n_repo_digests)
		cri_copy_str(out->repo_digest, sizeof(out->repo_digest), r->image->repo_digests[0]);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return CRI_OK;
}

/* ---- transport ---------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb;

	if (n > CRI_MAX_REPLY - r->len) {
		r->too_big = true;
		return 0; /* makes libcurl abort the transfer */
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		uint8_t *p;

		while (cap < r->len + n)
			cap *= 2;
		if (cap > CRI_MAX_REPLY)
			cap = CRI_MAX_REPLY;
		p = realloc(r->body, cap);
		if (!p)
			return 0;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	return n;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* grpc-message is percent-encoded on the wire. */
static void percent_decode(char *dst, size_t size, const char *src, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < size; i++) {
		int hi, lo;

		if (src[i] == '%' && i + 2 < n &&
		    (hi = hex_value(src[i + 1])) >= 0 &&
		    (lo = hex_value(src[i + 2])) >= 0) {
			char ch = (char)(hi << 4 | lo);

			dst[o++] = (ch >= 0x20 && ch != 0x7f) ? ch : '?';
			i += 2;
		} else {
			dst[o++] = (src[i] >= 0x20 && src[i] != 0x7f) ? src[i] : '?';
		}
	}
	dst[o] = '\0';
}

static bool header_is(const char *line, size_t n, const char *name,
		      const char **value, size_t *value_len)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	line += k + 1;
	n -= k + 1;
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' ||
		     line[n - 1] == ' '))
		n--;
	*value = line;
	*value_len = n;
	return true;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb;
	const char *v;
	size_t vn;

	if (header_is(data, n, "grpc-status", &v, &vn)) {
		int st = 0;
		bool ok = vn > 0 && vn <= 3;

		for (size_t i = 0; ok && i < vn; i++) {
			if (v[i] < '0' || v[i] > '9')
				ok = false;
			else
				st = st * 10 + (v[i] - '0');
		}
		r->have_status = ok;
		r->grpc_status = ok ? st : -1;
	} else if (header_is(data, n, "grpc-message", &v, &vn)) {
		percent_decode(r->grpc_message, sizeof(r->grpc_message), v, vn);
	} else if (header_is(data, n, "content-type", &v, &vn)) {
		if (vn >= sizeof(r->content_type))
			vn = sizeof(r->content_type) - 1;
		memcpy(r->content_type, v, vn);
		r->content_type[vn] = '\0';
	}
	return n;
}

static bool is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

const char *cri_detect_socket(void)
{
	for (size_t i = 0; i < sizeof(well_known_sockets) / sizeof(well_known_sockets[0]); i++)
		if (is_socket(well_known_sockets[i]))
			return well_known_sockets[i];
	return NULL;
}

struct cri_client *cri_client_new(const char *socket_path, unsigned timeout_ms)
{
	struct cri_client *c;

	pthread_once(&curl_once, curl_init_once);
	if (!curl_ok) {
		log_error("cri: libcurl failed to initialise");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	if (socket_path && *socket_path) {
		if (strlen(socket_path) >= sizeof(c->socket))
			log_warn("cri: socket path too long, truncated: %s", socket_path);
		cri_copy_str(c->socket, sizeof(c->socket), socket_path);
		c->socket_explicit = true;
	}
	c->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
	return c;
}

void cri_client_free(struct cri_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->reply.body);
	free(c);
}

const char *cri_client_error(const struct cri_client *c)
{
	return c->error;
}

const char *cri_client_socket(const struct cri_client *c)
{
	return c->socket;
}

const char *cri_client_api(const struct cri_client *c)
{
	return c->v1alpha2 ? API_V1ALPHA2 : API_V1;
}

uint64_t cri_client_last_latency_us(const struct cri_client *c)
{
	return c->last_latency_us;
}

/* One HTTP/2 exchange; fills c->reply. */
static int perform(struct cri_client *c, const char *service, const char *method,
		   const uint8_t *frame, size_t frame_len)
{
	char url[160], timeout_hdr[48];
	struct curl_slist *hdrs = NULL, *h;
	CURLcode rc;
	long http = 0;
	CURL *k = c->curl;

	if (!c->socket_explicit) {
		const char *s = cri_detect_socket();

		if (!s) {
			c->socket[0] = '\0';
			set_err(c->error, sizeof(c->error),
				"no CRI socket found (containerd, CRI-O, cri-dockerd)");
			return CRI_ERR_TRANSPORT;
		}
		cri_copy_str(c->socket, sizeof(c->socket), s);
	}

	c->reply.len = 0;
	c->reply.too_big = false;
	c->reply.have_status = false;
	c->reply.grpc_status = -1;
	c->reply.grpc_message[0] = '\0';
	c->reply.content_type[0] = '\0';

	snprintf(url, sizeof(url), "http://localhost/%s.%s/%s", cri_client_api(c),
		 service, method);
	/* gRPC deadline in the server's terms too, so it gives up when we do */
	snprintf(timeout_hdr, sizeof(timeout_hdr), "grpc-timeout: %um", c->timeout_ms);
	h = curl_slist_append(hdrs, "content-type: application/grpc");
	if (h)
		hdrs = h;
	h = curl_slist_append(hdrs, "te: trailers");
	if (h)
		hdrs = h;
	h = curl_slist_append(hdrs, timeout_hdr);
	if (h)
		hdrs = h;

	curl_easy_reset(k);
	curl_easy_setopt(k, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	curl_easy_setopt(k, CURLOPT_URL, url);
	curl_easy_setopt(k, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(k, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(k, CURLOPT_POST, 1L);
	curl_easy_setopt(k, CURLOPT_POSTFIELDS, (const char *)frame);
	curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)frame_len);
	curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k, CURLOPT_WRITEDATA, &c->reply);
	curl_easy_setopt(k, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(k, CURLOPT_HEADERDATA, &c->reply);
	curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	/* Timeouts without SIGALRM: we run in a thread of a bigger program. */
	curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	/* A new connection per call: libcurl 7.88 (Debian 12) fails a second
	 * request on a reused prior-knowledge HTTP/2 connection with "Error in
	 * the HTTP2 framing layer" (curl issue #10634, fixed after 7.88.1), and
	 * a unix socket connect costs well under a millisecond. */
	curl_easy_setopt(k, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(k, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(k, CURLOPT_USERAGENT, "vigil-cri/1");
	/* wire-level debugging on a live node, printed by libcurl to stderr */
	if (getenv("VIGIL_CRI_TRACE"))
		curl_easy_setopt(k, CURLOPT_VERBOSE, 1L);

	rc = curl_easy_perform(k);
	curl_slist_free_all(hdrs);
	curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &http);

	if (c->reply.too_big) {
		set_err(c->error, sizeof(c->error), "%s: reply larger than %u bytes",
			method, CRI_MAX_REPLY);
		return CRI_ERR_PROTO;
	}
	if (rc != CURLE_OK) {
		set_err(c->error, sizeof(c->error), "%s on %s: %s", method, c->socket,
			curl_easy_strerror(rc));
		return CRI_ERR_TRANSPORT;
	}
	if (http != 200) {
		set_err(c->error, sizeof(c->error), "%s on %s: HTTP status %ld", method,
			c->socket, http);
		return CRI_ERR_TRANSPORT;
	}
	if (strncmp(c->reply.content_type, "application/grpc", 16) != 0) {
		set_err(c->error, sizeof(c->error), "%s: content-type '%s' is not gRPC",
			method, c->reply.content_type);
		return CRI_ERR_PROTO;
	}
	if (!c->reply.have_status) {
		set_err(c->error, sizeof(c->error),
			"%s: no valid grpc-status trailer (reply cut short?)", method);
		return CRI_ERR_PROTO;
	}
	return CRI_OK;
}

/* A unary call: packs req, checks the gRPC outcome, leaves the reply body in
 * c->reply for the caller's decoder. */
static int call(struct cri_client *c, const char *service, const char *method,
		const ProtobufCMessage *req)
{
	size_t plen = protobuf_c_message_get_packed_size(req);
	uint8_t *frame;
	uint64_t t0 = now_us();
	int rc;

	if (plen > CRI_MAX_REPLY) {
		set_err(c->error, sizeof(c->error), "%s: request too large", method);
		return CRI_ERR_ARG;
	}
	frame = malloc(5 + plen);
	if (!frame) {
		set_err(c->error, sizeof(c->error), "%s: out of memory", method);
		return CRI_ERR_TRANSPORT;
	}
	frame[0] = 0;
	frame[1] = (uint8_t)(plen >> 24);
	frame[2] = (uint8_t)(plen >> 16);
	frame[3] = (uint8_t)(plen >> 8);
	frame[4] = (uint8_t)plen;
	protobuf_c_message_pack(req, frame + 5);

	rc = perform(c, service, method, frame, 5 + plen);
	/* Runtimes older than Kubernetes 1.23's CRI only serve v1alpha2. */
	if (rc == CRI_OK && c->reply.grpc_status == GRPC_UNIMPLEMENTED &&
	    !c->api_settled && !c->v1alpha2) {
		log_info("cri: %s does not serve %s, falling back to %s", c->socket,
			 API_V1, API_V1ALPHA2);
		c->v1alpha2 = true;
		rc = perform(c, service, method, frame, 5 + plen);
		if (rc == CRI_OK && c->reply.grpc_status == GRPC_UNIMPLEMENTED)
			c->v1alpha2 = false; /* neither: the method itself is missing */
	}
	free(frame);
	c->last_latency_us = now_us() - t0;
	if (rc != CRI_OK)
		return rc;

	if (c->reply.grpc_status != 0) {
		set_err(c->error, sizeof(c->error), "%s: grpc-status %d: %s", method,
			c->reply.grpc_status, c->reply.grpc_message);
		return c->reply.grpc_status == GRPC_NOT_FOUND ? CRI_ERR_NOT_FOUND :
								CRI_ERR_RPC;
	}
	c->api_settled = true;
	return CRI_OK;
}

static int decode_result(struct cri_client *c, int rc)
{
	if (rc != CRI_OK && c->error[0] == '\0')
		set_err(c->error, sizeof(c->error), "%s", cri_error_name(rc));
	return rc;
}

static bool valid_id_arg(struct cri_client *c, const char *id)
{
	if (id_fits(id))
		return true;
	set_err(c->error, sizeof(c->error), "bad id argument");
	return false;
}

int cri_version(struct cri_client *c, struct cri_version *out)
{
	Cri__VersionRequest req = CRI__VERSION_REQUEST__INIT;
	int rc;

	req.version = (char *)"v1";
	rc = call(c, "RuntimeService", "Version", &req.base);
	if (rc != CRI_OK)
		return rc;
	return decode_result(c, cri_decode_version(c->reply.body, c->reply.len, out,
						   c->error, sizeof(c->error)));
}

int cri_list_containers(struct cri_client *c, const char *pod_sandbox_id,
			struct cri_container_list *out)
{
	Cri__ListContainersRequest req = CRI__LIST_CONTAINERS_REQUEST__INIT;
	Cri__ContainerFilter filter = CRI__CONTAINER_FILTER__INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	if (pod_sandbox_id) {
		filter.pod_sandbox_id = (char *)pod_sandbox_id;
		req.filter = &filter;
	}
	rc = call(c, "RuntimeService", "ListContainers", &req.base);
	if (rc != CRI_OK)
		return rc;
	return decode_result(c, cri_decode_list_containers(c->reply.body, c->reply.len,
							   out, c->error,
							   sizeof(c->error)));
}

int cri_container_status(struct cri_client *c, const char *id, bool verbose,
			 struct cri_container *out)
{
	Cri__ContainerStatusRequest req = CRI__CONTAINER_STATUS_REQUEST__INIT;
	int rc;

	if (!valid_id_arg(c, id))
		return CRI_ERR_ARG;
	req.container_id = (char *)id;
	req.verbose = verbose;
	rc = call(c, "RuntimeService", "ContainerStatus", &req.base);
	if (rc != CRI_OK)
		return rc;
	return decode_result(c, cri_decode_container_status(c->reply.body, c->reply.len,
							    out, c->error,
							    sizeof(c->error)));
}

int cri_list_pods(struct cri_client *c, struct cri_pod_list *out)
{
	Cri__ListPodSandboxRequest req = CRI__LIST_POD_SANDBOX_REQUEST__INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = call(c, "RuntimeService", "ListPodSandbox", &req.base);
	if (rc != CRI_OK)
		return rc;
	return decode_result(c, cri_decode_list_pods(c->reply.body, c->reply.len, out,
						     c->error, sizeof(c->error)));
}

int cri_pod_status(struct cri_client *c, const char *id, bool verbose,
		   struct cri_pod *out)
{
	Cri__PodSandboxStatusRequest req = CRI__POD_SANDBOX_STATUS_REQUEST__INIT;
	int rc;

	if (!valid_id_arg(c, id))
		return CRI_ERR_ARG;
	req.pod_sandbox_id = (char *)id;
	req.verbose = verbose;
	rc = call(c, "RuntimeService", "PodSandboxStatus", &req.base);
	if (rc != CRI_OK)
		return rc;
	return decode_result(c, cri_decode_pod_status(c->reply.body, c->reply.len, out,
						      c->error, sizeof(c->error)));
}

int cri_image_status(struct cri_client *c, const char *image, struct cri_image *out)
{
	Cri__ImageStatusRequest req = CRI__IMAGE_STATUS_REQUEST__INIT;
	Cri__ImageSpec spec = CRI__IMAGE_SPEC__INIT;
	int rc;

	if (!image || !*image) {
		set_err(c->error, sizeof(c->error), "empty image reference");
		return CRI_ERR_ARG;
	}
	spec.image = (char *)image;
	req.image = &spec;
	rc = call(c, "ImageService", "ImageStatus", &req.base);
	if (rc != CRI_OK)
		return rc;
	return decode_result(c, cri_decode_image_status(c->reply.body, c->reply.len,
							out, c->error,
							sizeof(c->error)));
}

void cri_container_list_free(struct cri_container_list *l)
{
	if (!l)
		return;
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void cri_pod_list_free(struct cri_pod_list *l)
{
	if (!l)
		return;
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* ---- lifecycle (tests) --------------------------------------------------- */

/* Pairs in a NULL-terminated key, value, key, value, ... list. Each map
 * field has its own generated entry type, so each gets its own short loop
 * rather than one builder full of casts. */
static size_t count_pairs(const char *const *kv)
{
	size_t n = 0;

	while (kv && kv[2 * n] && kv[2 * n + 1])
		n++;
	return n;
}

struct pod_msg {
	Cri__PodSandboxConfig config;
	Cri__PodSandboxMetadata metadata;
	Cri__LinuxPodSandboxConfig linux_cfg;
	Cri__LinuxSandboxSecurityContext sec;
	Cri__NamespaceOption ns;
	Cri__PodSandboxConfig__LabelsEntry *entries;
	Cri__PodSandboxConfig__LabelsEntry **labels;
};

static int build_pod_config(const struct cri_pod_config *cfg, struct pod_msg *m)
{
	size_t n = count_pairs(cfg->labels);

	memset(m, 0, sizeof(*m));
	cri__pod_sandbox_config__init(&m->config);
	cri__pod_sandbox_metadata__init(&m->metadata);
	cri__linux_pod_sandbox_config__init(&m->linux_cfg);
	cri__linux_sandbox_security_context__init(&m->sec);
	cri__namespace_option__init(&m->ns);

	m->metadata.name = (char *)cfg->name;
	m->metadata.namespace_ = (char *)cfg->namespace;
	m->metadata.uid = (char *)cfg->uid;
	m->config.metadata = &m->metadata;
	m->config.hostname = (char *)cfg->name;
	m->config.log_directory = (char *)(cfg->log_directory ? cfg->log_directory : "");
	m->ns.network = CRI__NAMESPACE_MODE__POD;
	m->ns.pid = CRI__NAMESPACE_MODE__CONTAINER;
	m->ns.ipc = CRI__NAMESPACE_MODE__POD;
	m->sec.namespace_options = &m->ns;
	m->linux_cfg.security_context = &m->sec;
	m->linux_cfg.cgroup_parent = (char *)(cfg->cgroup_parent ? cfg->cgroup_parent : "");
	m->config.linux_config = &m->linux_cfg;
	if (n) {
		m->entries = calloc(n, sizeof(*m->entries));
		m->labels = calloc(n, sizeof(*m->labels));
		if (!m->entries || !m->labels)
			return -1;
		for (size_t i = 0; i < n; i++) {
			cri__pod_sandbox_config__labels_entry__init(&m->entries[i]);
			m->entries[i].key = (char *)cfg->labels[2 * i];
			m->entries[i].value = (char *)cfg->labels[2 * i + 1];
			m->labels[i] = &m->entries[i];
		}
		m->config.n_labels = n;
		m->config.labels = m->labels;
	}
	return 0;
}

static void free_pod_config(struct pod_msg *m)
{
	free(m->entries);
	free(m->labels);
}

static bool pod_config_ok(struct cri_client *c, const struct cri_pod_config *cfg)
{
	if (cfg && cfg->name && cfg->namespace && cfg->uid)
		return true;
	set_err(c->error, sizeof(c->error), "pod config needs name, namespace and uid");
	return false;
}

static int copy_reply_id(struct cri_client *c, const ProtobufCMessageDescriptor *desc,
			 char id[CRI_ID_SIZE])
{
	ProtobufCMessage *m = unpack(desc, c->reply.body, c->reply.len, c->error,
				     sizeof(c->error));
	const char *got = NULL;
	int rc = CRI_OK;

	if (!m)
		return CRI_ERR_PROTO;
	if (desc == &cri__run_pod_sandbox_response__descriptor)
		got = ((Cri__RunPodSandboxResponse *)m)->pod_sandbox_id;
	else
		got = ((Cri__CreateContainerResponse *)m)->container_id;
	if (!id_fits(got)) {
		set_err(c->error, sizeof(c->error), "reply without a usable id");
		rc = CRI_ERR_PROTO;
	} else {
		cri_copy_str(id, CRI_ID_SIZE, got);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

int cri_run_pod(struct cri_client *c, const struct cri_pod_config *cfg,
		char id[CRI_ID_SIZE])
{
	Cri__RunPodSandboxRequest req = CRI__RUN_POD_SANDBOX_REQUEST__INIT;
	struct pod_msg m;
	int rc;

	if (!pod_config_ok(c, cfg))
		return CRI_ERR_ARG;
	if (build_pod_config(cfg, &m) != 0) {
		free_pod_config(&m);
		set_err(c->error, sizeof(c->error), "out of memory");
		return CRI_ERR_ARG;
	}
	req.config = &m.config;
	rc = call(c, "RuntimeService", "RunPodSandbox", &req.base);
	free_pod_config(&m);
	if (rc != CRI_OK)
		return rc;
	return copy_reply_id(c, &cri__run_pod_sandbox_response__descriptor, id);
}

static size_t count_strings(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int cri_create_container(struct cri_client *c, const char *pod_id,
			 const struct cri_container_config *cfg,
			 const struct cri_pod_config *pod, char id[CRI_ID_SIZE])
{
	Cri__CreateContainerRequest req = CRI__CREATE_CONTAINER_REQUEST__INIT;
	Cri__ContainerConfig config = CRI__CONTAINER_CONFIG__INIT;
	Cri__ContainerMetadata md = CRI__CONTAINER_METADATA__INIT;
	Cri__ImageSpec image = CRI__IMAGE_SPEC__INIT;
	Cri__ContainerConfig__LabelsEntry *entries = NULL, **labels = NULL;
	struct pod_msg pm;
	size_t n;
	int rc;

	if (!valid_id_arg(c, pod_id) || !pod_config_ok(c, pod))
		return CRI_ERR_ARG;
	if (!cfg || !cfg->name || !cfg->image) {
		set_err(c->error, sizeof(c->error), "container config needs name and image");
		return CRI_ERR_ARG;
	}
	n = count_pairs(cfg->labels);
	if (build_pod_config(pod, &pm) != 0)
		goto oom;
	if (n) {
		entries = calloc(n, sizeof(*entries));
		labels = calloc(n, sizeof(*labels));
		if (!entries || !labels)
			goto oom;
		for (size_t i = 0; i < n; i++) {
			cri__container_config__labels_entry__init(&entries[i]);
			entries[i].key = (char *)cfg->labels[2 * i];
			entries[i].value = (char *)cfg->labels[2 * i + 1];
			labels[i] = &entries[i];
		}
		config.n_labels = n;
		config.labels = labels;
	}
	md.name = (char *)cfg->name;
	image.image = (char *)cfg->image;
	config.metadata = &md;
	config.image = &image;
	config.n_command = count_strings(cfg->command);
	config.command = (char **)cfg->command;
	config.n_args = count_strings(cfg->args);
	config.args = (char **)cfg->args;
	config.log_path = (char *)(cfg->log_path ? cfg->log_path : "");
	req.pod_sandbox_id = (char *)pod_id;
	req.config = &config;
	req.sandbox_config = &pm.config;

	rc = call(c, "RuntimeService", "CreateContainer", &req.base);
	free(entries);
	free(labels);
	free_pod_config(&pm);
	if (rc != CRI_OK)
		return rc;
	return copy_reply_id(c, &cri__create_container_response__descriptor, id);
oom:
	free(entries);
	free(labels);
	free_pod_config(&pm);
	set_err(c->error, sizeof(c->error), "out of memory");
	return CRI_ERR_ARG;
}

int cri_start_container(struct cri_client *c, const char *id)
{
	Cri__StartContainerRequest req = CRI__START_CONTAINER_REQUEST__INIT;

	if (!valid_id_arg(c, id))
		return CRI_ERR_ARG;
	req.container_id = (char *)id;
	return call(c, "RuntimeService", "StartContainer", &req.base);
}

int cri_stop_container(struct cri_client *c, const char *id, int64_t timeout_s)
{
	Cri__StopContainerRequest req = CRI__STOP_CONTAINER_REQUEST__INIT;

	if (!valid_id_arg(c, id))
		return CRI_ERR_ARG;
	req.container_id = (char *)id;
	req.timeout = timeout_s;
	return call(c, "RuntimeService", "StopContainer", &req.base);
}

int cri_remove_container(struct cri_client *c, const char *id)
{
	Cri__RemoveContainerRequest req = CRI__REMOVE_CONTAINER_REQUEST__INIT;

	if (!valid_id_arg(c, id))
		return CRI_ERR_ARG;
	req.container_id = (char *)id;
	return call(c, "RuntimeService", "RemoveContainer", &req.base);
}

int cri_stop_pod(struct cri_client *c, const char *id)
{
	Cri__StopPodSandboxRequest req = CRI__STOP_POD_SANDBOX_REQUEST__INIT;

	if (!valid_id_arg(c, id))
		return CRI_ERR_ARG;
	req.pod_sandbox_id = (char *)id;
	return call(c, "RuntimeService", "StopPodSandbox", &req.base);
}

int cri_remove_pod(struct cri_client *c, const char *id)
{
	Cri__RemovePodSandboxRequest req = CRI__REMOVE_POD_SANDBOX_REQUEST__INIT;

	if (!valid_id_arg(c, id))
		return CRI_ERR_ARG;
	req.pod_sandbox_id = (char *)id;
	return call(c, "RuntimeService", "RemovePodSandbox", &req.base);
}
