/* test_sensor_files.c - the real sensor, the real kernel: file events end to
 * end. Each test starts `vigil events --types ...`, makes a child process do
 * real syscalls on files under a private directory in /tmp, and checks the
 * JSON line of each call: path, how it was resolved, flags or mode, owner,
 * return value, syscall name, and that it is the child's. Needs root. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include "integration/harness.h"

#define FILE_TYPES "open,mkdir,rmdir,unlink,rename,link,symlink,chmod,chown,utimes,truncate," \
		   "setxattr,removexattr,chdir"
#include "integration/event_checks.h"

static void setup(void)
{
	suite_start("files", FILE_TYPES);
}

static void teardown(void)
{
	suite_stop();
}

TestSuite(files, .init = setup, .fini = teardown, .timeout = 30);

/* ---- open -------------------------------------------------------------- */

static int do_opens(void *arg)
{
	char p[PATH_MAX];
	struct open_how how = { .flags = O_RDWR | O_CREAT, .mode = 0620 };

	(void)arg;
	umask(0);
	join(p, "openat");
	if (openat(AT_FDCWD, p, O_WRONLY | O_CREAT | O_EXCL, 0640) < 0)
		return 1;
	join(p, "openat2");
	if (syscall(SYS_openat2, AT_FDCWD, p, &how, sizeof(how)) < 0)
		return 2;
	join(p, "creat");
	if (syscall(SYS_creat, p, 0604) < 0)
		return 3;
	join(p, "open");
	if (syscall(SYS_open, p, O_WRONLY | O_CREAT | O_APPEND, 0611) < 0)
		return 4;
	/* An existing file opened read-only: no mode in the event. */
	join(p, "openat");
	if (open(p, O_RDONLY) < 0)
		return 5;
	return 0;
}

static void check_open(pid_t child, const char *name, const char *sysname, int64_t flags_set,
		       int64_t mode)
{
	char p[PATH_MAX];
	cJSON *ev;

	join(p, name);
	ev = expect_event("open", child, "open.file.path", p);
	expect_str(ev, "evt.category", "file");
	expect_str(ev, "evt.outcome", "success");
	expect_str(ev, "open.syscall.name", sysname);
	expect_str(ev, "open.file.name", name);
	expect_str(ev, "open.file.path_resolution", "file");
	expect_str(ev, "open.file.filesystem", "ext4");
	cr_expect_geq(num_at(ev, "open.retval"), 0);
	cr_expect_eq(num_at(ev, "open.flags") & flags_set, flags_set, "%s: flags 0x%llx lack 0x%llx",
		     sysname, (long long)num_at(ev, "open.flags"), (long long)flags_set);
	expect_num(ev, "open.file.destination.mode", mode);
	/* The inode the kernel holds after the call: the new file. */
	expect_num(ev, "open.file.mode", S_IFREG | mode);
	expect_num(ev, "open.file.uid", 0);
	expect_num(ev, "open.file.gid", 0);
	expect_num(ev, "process.pid", child);
	cJSON_Delete(ev);
}

Test(files, open_openat_openat2_creat)
{
	pid_t child = run_child(do_opens, NULL);
	struct stat st;
	char p[PATH_MAX];
	cJSON *ev;

	check_open(child, "openat", "openat", O_WRONLY | O_CREAT | O_EXCL, 0640);
	check_open(child, "openat2", "openat2", O_RDWR | O_CREAT, 0620);
	check_open(child, "creat", "creat", O_WRONLY | O_CREAT | O_TRUNC, 0604);
	check_open(child, "open", "open", O_WRONLY | O_CREAT | O_APPEND, 0611);

	/* The second open of "openat", read-only. */
	join(p, "openat");
	cr_assert_eq(stat(p, &st), 0);
	ev = expect_match(&(struct want){ .name = "open", .pid = child, .key = "open.file.path",
					  .value = p, .num_key = "open.flags", .num = O_RDONLY });
	cr_expect_null(json_path(ev, "open.file.destination"), "no mode without O_CREAT");
	expect_num(ev, "open.file.inode", (int64_t)st.st_ino);
	cJSON_Delete(ev);
}

/* ---- paths: relative, through a symlink and "..", failed ---------------- */

static int do_relative_open(void *arg)
{
	char p[PATH_MAX];

	(void)arg;
	join(p, "cwd");
	if (chdir(p) < 0)
		return 1;
	if (open("../lnk/./target", O_RDONLY) < 0)
		return 2;
	/* A failed call has no file object: the path is joined from the
	 * argument, symlinks as written. */
	if (open("../lnk/./missing", O_RDONLY) >= 0 || errno != ENOENT)
		return 3;
	return 0;
}

Test(files, relative_path_through_symlink_and_dotdot)
{
	char p[PATH_MAX], want[PATH_MAX];
	pid_t child;
	cJSON *ev;
	int fd;

	join(p, "cwd");
	cr_assert_eq(mkdir(p, 0755), 0);
	join(p, "real");
	cr_assert_eq(mkdir(p, 0755), 0);
	join(p, "real/target");
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	join(p, "lnk");
	cr_assert_eq(symlink("real", p), 0);

	child = run_child(do_relative_open, NULL);

	join(want, "cwd");
	ev = expect_event("chdir", child, "chdir.file.path", want);
	expect_str(ev, "chdir.file.path_resolution", "cwd");
	cJSON_Delete(ev);

	join(want, "real/target");
	ev = expect_event("open", child, "open.file.path", want);
	expect_str(ev, "open.file.path_resolution", "file");
	expect_str(ev, "open.file.name", "target");
	expect_str(ev, "open.syscall.name", "openat");
	expect_num(ev, "open.flags", O_RDONLY);
	cr_expect_geq(num_at(ev, "open.retval"), 0);
	cJSON_Delete(ev);

	join(want, "lnk/missing");
	ev = expect_event("open", child, "open.file.path", want);
	expect_str(ev, "open.file.path_resolution", "argument");
	expect_str(ev, "evt.outcome", "failure");
	expect_num(ev, "open.retval", -ENOENT);
	cJSON_Delete(ev);
}

static int do_open_as_nobody(void *arg)
{
	const char *p = arg;

	if (setgid(65534) < 0 || setuid(65534) < 0)
		return 1;
	if (open(p, O_RDONLY) >= 0)
		return 2;
	return errno == EACCES ? 0 : 3;
}

Test(files, failed_open_reports_eacces_and_the_path)
{
	char p[PATH_MAX];
	pid_t child;
	cJSON *ev;
	int fd;

	join(p, "secret");
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(chmod(p, 0600), 0);

	child = run_child(do_open_as_nobody, p);
	ev = expect_event("open", child, "open.file.path", p);
	expect_num(ev, "open.retval", -EACCES);
	expect_str(ev, "evt.outcome", "failure");
	expect_str(ev, "open.file.path_resolution", "argument");
	expect_str(ev, "open.file.name", "secret");
	expect_num(ev, "open.flags", O_RDONLY);
	expect_num(ev, "process.credentials.uid", 65534);
	expect_num(ev, "process.credentials.euid", 65534);
	expect_num(ev, "process.credentials.gid", 65534);
	cJSON_Delete(ev);
}

/* ---- namespace changes: mkdir, rmdir, unlink, rename, link, symlink ------ */

static int do_namespace_ops(void *arg)
{
	char a[PATH_MAX], b[PATH_MAX];
	int dirfd, fd;

	(void)arg;
	umask(0);
	join(a, "made");
	if (syscall(SYS_mkdir, a, 0750) < 0)
		return 1;
	dirfd = open(base, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0)
		return 2;
	if (mkdirat(dirfd, "madeat", 0705) < 0)
		return 3;
	if (syscall(SYS_rmdir, a) < 0)
		return 4;
	join(a, "victim");
	fd = open(a, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		return 5;
	close(fd);
	if (syscall(SYS_unlink, a) < 0)
		return 6;
	if (unlinkat(dirfd, "madeat", AT_REMOVEDIR) < 0)
		return 7;
	join(a, "old");
	join(b, "new");
	fd = open(a, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		return 8;
	close(fd);
	if (syscall(SYS_rename, a, b) < 0)
		return 9;
	if (syscall(SYS_renameat2, dirfd, "new", dirfd, "newer", RENAME_NOREPLACE) < 0)
		return 10;
	join(a, "newer");
	join(b, "hard");
	if (syscall(SYS_link, a, b) < 0)
		return 11;
	join(b, "soft");
	if (syscall(SYS_symlink, "some/target-text", b) < 0)
		return 12;
	/* A failed unlink is an event too. */
	join(a, "never-existed");
	if (syscall(SYS_unlink, a) == 0 || errno != ENOENT)
		return 13;
	close(dirfd);
	return 0;
}

Test(files, mkdir_rmdir_unlink_rename_link_symlink)
{
	pid_t child = run_child(do_namespace_ops, NULL);
	char a[PATH_MAX], b[PATH_MAX];
	cJSON *ev;

	join(a, "made");
	ev = expect_event("mkdir", child, "mkdir.file.path", a);
	expect_str(ev, "mkdir.syscall.name", "mkdir");
	expect_str(ev, "mkdir.file.path_resolution", "argument");
	expect_num(ev, "mkdir.file.destination.mode", 0750);
	expect_num(ev, "mkdir.retval", 0);
	cJSON_Delete(ev);

	join(a, "madeat");
	ev = expect_event("mkdir", child, "mkdir.file.path", a);
	expect_str(ev, "mkdir.syscall.name", "mkdirat");
	expect_num(ev, "mkdir.file.destination.mode", 0705);
	cJSON_Delete(ev);

	join(a, "made");
	ev = expect_event("rmdir", child, "rmdir.file.path", a);
	expect_str(ev, "rmdir.syscall.name", "rmdir");
	expect_num(ev, "rmdir.retval", 0);
	cJSON_Delete(ev);

	join(a, "victim");
	ev = expect_event("unlink", child, "unlink.file.path", a);
	expect_str(ev, "unlink.syscall.name", "unlink");
	expect_str(ev, "unlink.file.name", "victim");
	expect_num(ev, "unlink.retval", 0);
	cJSON_Delete(ev);

	join(a, "madeat");
	ev = expect_event("unlink", child, "unlink.file.path", a);
	expect_str(ev, "unlink.syscall.name", "unlinkat");
	expect_num(ev, "unlink.flags", AT_REMOVEDIR);
	cJSON_Delete(ev);

	join(a, "never-existed");
	ev = expect_event("unlink", child, "unlink.file.path", a);
	expect_num(ev, "unlink.retval", -ENOENT);
	expect_str(ev, "evt.outcome", "failure");
	cJSON_Delete(ev);

	join(a, "old");
	join(b, "new");
	ev = expect_event("rename", child, "rename.file.path", a);
	expect_str(ev, "rename.syscall.name", "rename");
	expect_str(ev, "rename.file.destination.path", b);
	expect_str(ev, "rename.file.destination.name", "new");
	expect_num(ev, "rename.retval", 0);
	cJSON_Delete(ev);

	join(a, "new");
	join(b, "newer");
	ev = expect_event("rename", child, "rename.file.path", a);
	expect_str(ev, "rename.syscall.name", "renameat2");
	expect_str(ev, "rename.file.destination.path", b);
	expect_num(ev, "rename.flags", RENAME_NOREPLACE);
	cJSON_Delete(ev);

	join(a, "newer");
	join(b, "hard");
	ev = expect_event("link", child, "link.file.path", a);
	expect_str(ev, "link.syscall.name", "link");
	expect_str(ev, "link.file.destination.path", b);
	expect_num(ev, "link.retval", 0);
	cJSON_Delete(ev);

	join(b, "soft");
	ev = expect_event("symlink", child, "symlink.file.path", b);
	expect_str(ev, "symlink.syscall.name", "symlink");
	expect_str(ev, "symlink.target", "some/target-text");
	expect_num(ev, "symlink.retval", 0);
	cJSON_Delete(ev);
}

/* ---- attributes: chmod, chown, utimes, truncate --------------------------- */

static int do_attributes(void *arg)
{
	char p[PATH_MAX], l[PATH_MAX];
	int fd;

	(void)arg;
	join(p, "attr");
	join(l, "attr-link");
	fd = open(p, O_CREAT | O_RDWR, 0644);
	if (fd < 0)
		return 1;
	if (symlink(p, l) < 0)
		return 2;
	if (syscall(SYS_chmod, p, 0600) < 0)
		return 3;
	if (fchmod(fd, 0640) < 0)
		return 4;
	if (syscall(SYS_fchmodat, AT_FDCWD, p, 0604) < 0)
		return 5;
	if (syscall(SYS_chown, p, 65534, 65534) < 0)
		return 6;
	if (fchown(fd, 1, 2) < 0)
		return 7;
	if (syscall(SYS_lchown, l, 3, 4) < 0)
		return 8;
	if (utimensat(AT_FDCWD, p, NULL, 0) < 0)
		return 9;
	if (syscall(SYS_truncate, p, 10) < 0)
		return 10;
	if (ftruncate(fd, 20) < 0)
		return 11;
	close(fd);
	return 0;
}

/* Finds the child's `name` event made by syscall `sysname`. */
static cJSON *expect_syscall(const char *name, pid_t child, const char *sysname)
{
	char key[64];

	snprintf(key, sizeof(key), "%s.syscall.name", name);
	return expect_event(name, child, key, sysname);
}

Test(files, chmod_chown_utimes_truncate)
{
	pid_t child = run_child(do_attributes, NULL);
	char p[PATH_MAX], l[PATH_MAX];
	struct stat st;
	cJSON *ev;

	join(p, "attr");
	join(l, "attr-link");
	cr_assert_eq(stat(p, &st), 0);

	ev = expect_syscall("chmod", child, "chmod");
	expect_str(ev, "chmod.file.path", p);
	expect_str(ev, "chmod.file.path_resolution", "argument");
	expect_num(ev, "chmod.file.destination.mode", 0600);
	expect_num(ev, "chmod.retval", 0);
	cJSON_Delete(ev);

	/* From the fd: the kernel's file, with its metadata after the call. */
	ev = expect_syscall("chmod", child, "fchmod");
	expect_str(ev, "chmod.file.path", p);
	expect_str(ev, "chmod.file.path_resolution", "file");
	expect_num(ev, "chmod.file.destination.mode", 0640);
	expect_num(ev, "chmod.file.mode", S_IFREG | 0640);
	expect_num(ev, "chmod.file.inode", (int64_t)st.st_ino);
	cJSON_Delete(ev);

	ev = expect_syscall("chmod", child, "fchmodat");
	expect_str(ev, "chmod.file.path", p);
	expect_num(ev, "chmod.file.destination.mode", 0604);
	cJSON_Delete(ev);

	ev = expect_syscall("chown", child, "chown");
	expect_str(ev, "chown.file.path", p);
	expect_num(ev, "chown.file.destination.uid", 65534);
	expect_num(ev, "chown.file.destination.gid", 65534);
	expect_num(ev, "chown.retval", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("chown", child, "fchown");
	expect_str(ev, "chown.file.path", p);
	expect_str(ev, "chown.file.path_resolution", "file");
	expect_num(ev, "chown.file.destination.uid", 1);
	expect_num(ev, "chown.file.destination.gid", 2);
	expect_num(ev, "chown.file.uid", 1);
	expect_num(ev, "chown.file.gid", 2);
	cJSON_Delete(ev);

	ev = expect_syscall("chown", child, "lchown");
	expect_str(ev, "chown.file.path", l);
	expect_num(ev, "chown.file.destination.uid", 3);
	expect_num(ev, "chown.file.destination.gid", 4);
	cJSON_Delete(ev);

	ev = expect_syscall("utimes", child, "utimensat");
	expect_str(ev, "utimes.file.path", p);
	expect_num(ev, "utimes.flags", 0);
	expect_num(ev, "utimes.retval", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("truncate", child, "truncate");
	expect_str(ev, "truncate.file.path", p);
	expect_str(ev, "truncate.file.path_resolution", "argument");
	expect_num(ev, "truncate.retval", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("truncate", child, "ftruncate");
	expect_str(ev, "truncate.file.path", p);
	expect_str(ev, "truncate.file.path_resolution", "file");
	expect_num(ev, "truncate.file.inode", (int64_t)st.st_ino);
	cJSON_Delete(ev);
}

/* futimens(fd) is utimensat(fd, NULL, ...): the file is the fd's. touch(1)
 * on an existing file does exactly this. */
static int do_futimens(void *arg)
{
	int fd = open(arg, O_RDWR);

	if (fd < 0)
		return 1;
	if (futimens(fd, NULL) < 0)
		return 2;
	close(fd);
	return 0;
}

Test(files, futimens_reports_the_file_of_its_fd)
{
	char p[PATH_MAX];
	pid_t child;
	cJSON *ev;
	int fd;

	join(p, "touched");
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	child = run_child(do_futimens, p);
	ev = expect_syscall("utimes", child, "utimensat");
	expect_num(ev, "utimes.retval", 0);
	expect_str(ev, "utimes.file.path", p);
	cJSON_Delete(ev);
}

/* ---- xattrs ------------------------------------------------------------- */

struct xattr_result {
	int refused; /* errno of a setxattr the filesystem refused */
};

static int do_xattrs(void *arg)
{
	struct xattr_result *res = arg;
	char p[PATH_MAX], name[64];
	int fd;

	join(p, "xattr");
	snprintf(name, sizeof(name), "user.vigil_%d", getpid());
	fd = open(p, O_CREAT | O_RDWR, 0644);
	if (fd < 0)
		return 1;
	if (setxattr(p, name, "value", 5, XATTR_CREATE) < 0) {
		res->refused = errno;
		return 0;
	}
	if (fsetxattr(fd, "user.vigil_fd", "v", 1, 0) < 0)
		return 2;
	if (removexattr(p, name) < 0)
		return 3;
	if (fremovexattr(fd, "user.vigil_fd") < 0)
		return 4;
	close(fd);
	return 0;
}

Test(files, setxattr_removexattr)
{
	struct xattr_result *res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char p[PATH_MAX], name[64];
	pid_t child;
	cJSON *ev;

	cr_assert_neq(res, MAP_FAILED);
	res->refused = 0;
	join(p, "xattr");
	child = run_child(do_xattrs, res);
	snprintf(name, sizeof(name), "user.vigil_%d", child);
	if (res->refused) {
		/* Still an event, with the error. */
		ev = expect_syscall("setxattr", child, "setxattr");
		expect_num(ev, "setxattr.retval", -res->refused);
		cJSON_Delete(ev);
		munmap(res, sizeof(*res));
		cr_skip_test("the filesystem refuses user xattrs: %s", strerror(res->refused));
	}
	munmap(res, sizeof(*res));

	ev = expect_syscall("setxattr", child, "setxattr");
	expect_str(ev, "setxattr.file.path", p);
	expect_str(ev, "setxattr.file.destination.name", name);
	expect_num(ev, "setxattr.retval", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("setxattr", child, "fsetxattr");
	expect_str(ev, "setxattr.file.path", p);
	expect_str(ev, "setxattr.file.path_resolution", "file");
	expect_str(ev, "setxattr.file.destination.name", "user.vigil_fd");
	cJSON_Delete(ev);

	ev = expect_syscall("removexattr", child, "removexattr");
	expect_str(ev, "removexattr.file.path", p);
	expect_str(ev, "removexattr.file.destination.name", name);
	expect_num(ev, "removexattr.retval", 0);
	cJSON_Delete(ev);

	ev = expect_syscall("removexattr", child, "fremovexattr");
	expect_str(ev, "removexattr.file.path", p);
	expect_str(ev, "removexattr.file.destination.name", "user.vigil_fd");
	cJSON_Delete(ev);
}

/* ---- chdir ---------------------------------------------------------------- */

static int do_chdirs(void *arg)
{
	char p[PATH_MAX];
	int fd;

	(void)arg;
	join(p, "here");
	if (chdir(p) < 0)
		return 1;
	join(p, "there");
	fd = open(p, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return 2;
	if (fchdir(fd) < 0)
		return 3;
	/* Through a symlink: the new cwd is the target. */
	join(p, "via-link");
	if (chdir(p) < 0)
		return 4;
	join(p, "nowhere");
	if (chdir(p) == 0 || errno != ENOENT)
		return 5;
	return 0;
}

Test(files, chdir_and_fchdir)
{
	char p[PATH_MAX], want[PATH_MAX];
	pid_t child;
	cJSON *ev;

	join(p, "here");
	cr_assert_eq(mkdir(p, 0755), 0);
	join(p, "there");
	cr_assert_eq(mkdir(p, 0755), 0);
	join(p, "via-link");
	cr_assert_eq(symlink("there", p), 0);
	child = run_child(do_chdirs, NULL);

	join(want, "here");
	ev = expect_syscall("chdir", child, "chdir");
	expect_str(ev, "chdir.file.path", want);
	expect_str(ev, "chdir.file.path_resolution", "cwd");
	expect_num(ev, "chdir.file.mode", S_IFDIR | 0755);
	expect_num(ev, "chdir.retval", 0);
	cJSON_Delete(ev);

	join(want, "there");
	ev = expect_syscall("chdir", child, "fchdir");
	expect_str(ev, "chdir.file.path", want);
	expect_str(ev, "chdir.file.path_resolution", "cwd");
	cJSON_Delete(ev);
	/* The second chdir(2), through the link, lands in "there" too. */
	ev = expect_match(&(struct want){ .name = "chdir", .pid = child, .key = "chdir.file.path",
					  .value = want, .key2 = "chdir.syscall.name", .value2 = "chdir" });
	expect_str(ev, "chdir.file.path_resolution", "cwd");
	cJSON_Delete(ev);

	join(want, "nowhere");
	ev = expect_event("chdir", child, "chdir.file.path", want);
	expect_num(ev, "chdir.retval", -ENOENT);
	expect_str(ev, "chdir.file.path_resolution", "argument");
	cJSON_Delete(ev);
}

/* ---- a separate mount namespace ------------------------------------------- */

static int do_open_in_mount_ns(void *arg)
{
	char p[PATH_MAX];
	int fd;

	(void)arg;
	if (unshare(CLONE_NEWNS) < 0)
		return 1;
	/* Keep the new mount out of the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 2;
	join(p, "mnt");
	if (mount("vigil-test", p, "tmpfs", 0, "size=1m") < 0)
		return 3;
	join(p, "mnt/inside");
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		return 4;
	close(fd);
	return 0;
}

Test(files, open_inside_a_private_mount_namespace)
{
	char p[PATH_MAX];
	struct stat st;
	pid_t child;
	cJSON *ev;

	join(p, "mnt");
	cr_assert_eq(mkdir(p, 0755), 0);
	child = run_child(do_open_in_mount_ns, NULL);
	/* The host never saw the tmpfs: the directory is still empty here. */
	join(p, "mnt/inside");
	cr_assert_neq(stat(p, &st), 0);

	ev = expect_event("open", child, "open.file.path", p);
	expect_str(ev, "open.file.path_resolution", "file");
	expect_str(ev, "open.file.filesystem", "tmpfs");
	cr_expect_geq(num_at(ev, "open.retval"), 0);
	cr_expect_neq(num_at(ev, "process.namespaces.mnt"), 0);
	cJSON_Delete(ev);
}
