/* syscall_table.c - see syscall_table.h. */
#include "syscall_table.h"

#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/syscall.h>

#include "event.h"

/* Newer than Debian 12's headers. */
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#endif
#ifndef SYS_removexattrat
#define SYS_removexattrat 466
#endif

#define N -1 /* no such argument */

enum {
	RET_FD = VIGIL_SPEC_RET_FD,
	CWD = VIGIL_SPEC_CWD_AFTER,
	HOW = VIGIL_SPEC_OPEN_HOW,
	RLIM = VIGIL_SPEC_RLIMIT,
	SOCK_LOCAL = VIGIL_SPEC_SOCK_LOCAL,
	SOCK_PEER = VIGIL_SPEC_SOCK_PEER_RET,
	WX = VIGIL_SPEC_WX_ONLY,
	RAW = VIGIL_SPEC_RAW_STR,
};

/* One row per syscall:
 *   nr, name, event,
 *   capture: path, dirfd, path2, dirfd2, fd, str, str2, addr, prot, flags
 *   fields:  flags, mode, uid, gid, pid, op */
struct row {
	uint32_t nr;
	const char *name;
	uint8_t event;
	int8_t path, dirfd, path2, dirfd2, fd, str, str2, addr, prot;
	uint16_t spec_flags;
	int8_t flags, mode, uid, gid, pid, op;
};

static const struct row rows[] = {
	/* file: open */
	{ SYS_open, "open", EVENT_OPEN, 0, N, N, N, N, N, N, N, N, RET_FD, 1, 2, N, N, N, N },
	{ SYS_creat, "creat", EVENT_OPEN, 0, N, N, N, N, N, N, N, N, RET_FD, N, 1, N, N, N, N },
	{ SYS_openat, "openat", EVENT_OPEN, 1, 0, N, N, N, N, N, N, N, RET_FD, 2, 3, N, N, N, N },
	{ SYS_openat2, "openat2", EVENT_OPEN, 1, 0, N, N, N, N, N, N, N, RET_FD | HOW, 2, 3, N, N, N, N },
	{ SYS_open_by_handle_at, "open_by_handle_at", EVENT_OPEN, N, N, N, N, N, N, N, N, N, RET_FD, 2, N, N, N, N, N },
	/* file: namespace changes */
	{ SYS_mkdir, "mkdir", EVENT_MKDIR, 0, N, N, N, N, N, N, N, N, 0, N, 1, N, N, N, N },
	{ SYS_mkdirat, "mkdirat", EVENT_MKDIR, 1, 0, N, N, N, N, N, N, N, 0, N, 2, N, N, N, N },
	{ SYS_rmdir, "rmdir", EVENT_RMDIR, 0, N, N, N, N, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_unlink, "unlink", EVENT_UNLINK, 0, N, N, N, N, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_unlinkat, "unlinkat", EVENT_UNLINK, 1, 0, N, N, N, N, N, N, N, 0, 2, N, N, N, N, N },
	{ SYS_rename, "rename", EVENT_RENAME, 0, N, 1, N, N, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_renameat, "renameat", EVENT_RENAME, 1, 0, 3, 2, N, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_renameat2, "renameat2", EVENT_RENAME, 1, 0, 3, 2, N, N, N, N, N, 0, 4, N, N, N, N, N },
	{ SYS_link, "link", EVENT_LINK, 0, N, 1, N, N, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_linkat, "linkat", EVENT_LINK, 1, 0, 3, 2, N, N, N, N, N, 0, 4, N, N, N, N, N },
	/* symlink: the new link is the file; the target is a free string */
	{ SYS_symlink, "symlink", EVENT_SYMLINK, 1, N, N, N, N, 0, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_symlinkat, "symlinkat", EVENT_SYMLINK, 2, 1, N, N, N, 0, N, N, N, 0, N, N, N, N, N, N },
	/* file: attributes */
	{ SYS_chmod, "chmod", EVENT_CHMOD, 0, N, N, N, N, N, N, N, N, 0, N, 1, N, N, N, N },
	{ SYS_fchmod, "fchmod", EVENT_CHMOD, N, N, N, N, 0, N, N, N, N, 0, N, 1, N, N, N, N },
	{ SYS_fchmodat, "fchmodat", EVENT_CHMOD, 1, 0, N, N, N, N, N, N, N, 0, N, 2, N, N, N, N },
	{ SYS_fchmodat2, "fchmodat2", EVENT_CHMOD, 1, 0, N, N, N, N, N, N, N, 0, 3, 2, N, N, N, N },
	{ SYS_chown, "chown", EVENT_CHOWN, 0, N, N, N, N, N, N, N, N, 0, N, N, 1, 2, N, N },
	{ SYS_lchown, "lchown", EVENT_CHOWN, 0, N, N, N, N, N, N, N, N, 0, N, N, 1, 2, N, N },
	{ SYS_fchown, "fchown", EVENT_CHOWN, N, N, N, N, 0, N, N, N, N, 0, N, N, 1, 2, N, N },
	{ SYS_fchownat, "fchownat", EVENT_CHOWN, 1, 0, N, N, N, N, N, N, N, 0, 4, N, 2, 3, N, N },
	{ SYS_utime, "utime", EVENT_UTIMES, 0, N, N, N, N, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_utimes, "utimes", EVENT_UTIMES, 0, N, N, N, N, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_futimesat, "futimesat", EVENT_UTIMES, 1, 0, N, N, N, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_utimensat, "utimensat", EVENT_UTIMES, 1, 0, N, N, N, N, N, N, N, 0, 3, N, N, N, N, N },
	{ SYS_truncate, "truncate", EVENT_TRUNCATE, 0, N, N, N, N, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_ftruncate, "ftruncate", EVENT_TRUNCATE, N, N, N, N, 0, N, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_setxattr, "setxattr", EVENT_SETXATTR, 0, N, N, N, N, 1, N, N, N, 0, 4, N, N, N, N, N },
	{ SYS_lsetxattr, "lsetxattr", EVENT_SETXATTR, 0, N, N, N, N, 1, N, N, N, 0, 4, N, N, N, N, N },
	{ SYS_fsetxattr, "fsetxattr", EVENT_SETXATTR, N, N, N, N, 0, 1, N, N, N, 0, 4, N, N, N, N, N },
	{ SYS_setxattrat, "setxattrat", EVENT_SETXATTR, 1, 0, N, N, N, 3, N, N, N, 0, 2, N, N, N, N, N },
	{ SYS_removexattr, "removexattr", EVENT_REMOVEXATTR, 0, N, N, N, N, 1, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_lremovexattr, "lremovexattr", EVENT_REMOVEXATTR, 0, N, N, N, N, 1, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_fremovexattr, "fremovexattr", EVENT_REMOVEXATTR, N, N, N, N, 0, 1, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_removexattrat, "removexattrat", EVENT_REMOVEXATTR, 1, 0, N, N, N, 3, N, N, N, 0, 2, N, N, N, N, N },
	{ SYS_chdir, "chdir", EVENT_CHDIR, 0, N, N, N, N, N, N, N, N, CWD, N, N, N, N, N, N },
	{ SYS_fchdir, "fchdir", EVENT_CHDIR, N, N, N, N, 0, N, N, N, N, CWD, N, N, N, N, N, N },
	/* process: credentials (the new ones are in the process context) */
	{ SYS_setuid, "setuid", EVENT_SETUID, N, N, N, N, N, N, N, N, N, 0, N, N, 0, N, N, N },
	{ SYS_setreuid, "setreuid", EVENT_SETUID, N, N, N, N, N, N, N, N, N, 0, N, N, 0, N, N, N },
	{ SYS_setresuid, "setresuid", EVENT_SETUID, N, N, N, N, N, N, N, N, N, 0, N, N, 0, N, N, N },
	{ SYS_setfsuid, "setfsuid", EVENT_SETUID, N, N, N, N, N, N, N, N, N, 0, N, N, 0, N, N, N },
	{ SYS_setgid, "setgid", EVENT_SETGID, N, N, N, N, N, N, N, N, N, 0, N, N, N, 0, N, N },
	{ SYS_setregid, "setregid", EVENT_SETGID, N, N, N, N, N, N, N, N, N, 0, N, N, N, 0, N, N },
	{ SYS_setresgid, "setresgid", EVENT_SETGID, N, N, N, N, N, N, N, N, N, 0, N, N, N, 0, N, N },
	{ SYS_setfsgid, "setfsgid", EVENT_SETGID, N, N, N, N, N, N, N, N, N, 0, N, N, N, 0, N, N },
	{ SYS_capset, "capset", EVENT_CAPSET, N, N, N, N, N, N, N, N, N, 0, N, N, N, N, N, N },
	/* process: others */
	{ SYS_ptrace, "ptrace", EVENT_PTRACE, N, N, N, N, N, N, N, N, N, 0, N, N, N, N, 1, 0 },
	{ SYS_kill, "kill", EVENT_SIGNAL, N, N, N, N, N, N, N, N, N, 0, N, N, N, N, 0, 1 },
	{ SYS_tkill, "tkill", EVENT_SIGNAL, N, N, N, N, N, N, N, N, N, 0, N, N, N, N, 0, 1 },
	{ SYS_tgkill, "tgkill", EVENT_SIGNAL, N, N, N, N, N, N, N, N, N, 0, N, N, N, N, 0, 2 },
	{ SYS_prctl, "prctl", EVENT_PRCTL, N, N, N, N, N, 1, N, N, N, 0, N, N, N, N, N, 0 },
	{ SYS_setrlimit, "setrlimit", EVENT_SETRLIMIT, N, N, N, N, N, 1, N, N, N, RLIM, N, N, N, N, N, 0 },
	{ SYS_prlimit64, "prlimit64", EVENT_SETRLIMIT, N, N, N, N, N, 2, N, N, N, RLIM, N, N, N, N, 0, 1 },
	/* kernel */
	{ SYS_init_module, "init_module", EVENT_LOAD_MODULE, N, N, N, N, N, 2, N, N, N, 0, N, N, N, N, N, N },
	{ SYS_finit_module, "finit_module", EVENT_LOAD_MODULE, N, N, N, N, 0, 1, N, N, N, 0, 2, N, N, N, N, N },
	{ SYS_delete_module, "delete_module", EVENT_UNLOAD_MODULE, N, N, N, N, N, 0, N, N, N, 0, 1, N, N, N, N, N },
	{ SYS_bpf, "bpf", EVENT_BPF, N, N, N, N, N, 1, N, N, N, RAW, N, N, N, N, N, 0 },
	{ SYS_mount, "mount", EVENT_MOUNT, 1, N, N, N, N, 0, 2, N, N, 0, 3, N, N, N, N, N },
	{ SYS_umount2, "umount2", EVENT_UMOUNT, 0, N, N, N, N, N, N, N, N, 0, 1, N, N, N, N, N },
	{ SYS_memfd_create, "memfd_create", EVENT_MEMFD_CREATE, N, N, N, N, N, 0, N, N, N, 0, 1, N, N, N, N, N },
	{ SYS_mmap, "mmap", EVENT_MMAP, N, N, N, N, 4, N, N, N, 2, WX, 3, 2, N, N, N, N },
	{ SYS_mprotect, "mprotect", EVENT_MPROTECT, N, N, N, N, N, N, N, N, 2, WX, N, 2, N, N, N, N },
	{ SYS_unshare, "unshare", EVENT_UNSHARE, N, N, N, N, N, N, N, N, N, 0, 0, N, N, N, N, N },
	{ SYS_setns, "setns", EVENT_SETNS, N, N, N, N, 0, N, N, N, N, 0, 1, N, N, N, N, N },
	/* network */
	{ SYS_connect, "connect", EVENT_CONNECT, N, N, N, N, N, N, N, 1, N, 0, N, N, N, N, N, N },
	{ SYS_bind, "bind", EVENT_BIND, N, N, N, N, N, N, N, 1, N, 0, N, N, N, N, N, N },
	{ SYS_accept, "accept", EVENT_ACCEPT, N, N, N, N, N, N, N, N, N, SOCK_PEER, N, N, N, N, N, N },
	{ SYS_accept4, "accept4", EVENT_ACCEPT, N, N, N, N, N, N, N, N, N, SOCK_PEER, 3, N, N, N, N, N },
	{ SYS_listen, "listen", EVENT_LISTEN, N, N, N, N, 0, N, N, N, N, SOCK_LOCAL, N, N, N, N, N, 1 },
};

#define ROWS (sizeof(rows) / sizeof(rows[0]))

static struct syscall_info table[ROWS];
static const struct syscall_info *by_nr[VIGIL_SYSCALL_MAX];
static pthread_once_t built = PTHREAD_ONCE_INIT;

static void build(void)
{
	for (size_t i = 0; i < ROWS; i++) {
		const struct row *r = &rows[i];
		struct syscall_info *t = &table[i];

		t->nr = r->nr;
		t->name = r->name;
		t->event_type = r->event;
		t->spec = (struct vigil_syscall_spec){
			.event_type = r->event, .path_arg = r->path, .dirfd_arg = r->dirfd,
			.path2_arg = r->path2, .dirfd2_arg = r->dirfd2, .fd_arg = r->fd,
			.str_arg = r->str, .str2_arg = r->str2, .addr_arg = r->addr,
			.prot_arg = r->prot, .spec_flags = r->spec_flags,
			/* creat() always writes and openat2() keeps its flags
			 * behind a pointer: both pass the flags approver. */
			.flags_arg = r->event == EVENT_OPEN && r->nr != SYS_creat && r->nr != SYS_openat2
					     ? r->flags : -1,
		};
		t->fields = (struct syscall_fields){ r->flags, r->mode, r->uid, r->gid, r->pid, r->op };
		if (r->nr == SYS_creat)
			t->implied_flags = O_CREAT | O_WRONLY | O_TRUNC;
		if (r->nr < VIGIL_SYSCALL_MAX)
			by_nr[r->nr] = t;
	}
}

const struct syscall_info *syscall_lookup(uint32_t nr)
{
	pthread_once(&built, build);
	return nr < VIGIL_SYSCALL_MAX ? by_nr[nr] : NULL;
}

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif

const uint32_t *syscall_path_changers(size_t *n)
{
	static const uint32_t nrs[] = {
		SYS_rename, SYS_renameat, SYS_renameat2, SYS_link, SYS_linkat, SYS_unlink,
		SYS_unlinkat, SYS_rmdir, SYS_mount, SYS_umount2, SYS_open_tree, SYS_move_mount,
		SYS_fsmount, SYS_pivot_root, SYS_chroot,
	};

	*n = sizeof(nrs) / sizeof(nrs[0]);
	return nrs;
}

void syscall_table_walk(void (*fn)(const struct syscall_info *info, void *ctx), void *ctx)
{
	pthread_once(&built, build);
	for (size_t i = 0; i < ROWS; i++)
		fn(&table[i], ctx);
}
