// SPDX-License-Identifier: MIT
#include "native/kernel_unwind.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "native_unwind.h"
#include "util/log.h"
#include "util/u32map.h"

struct loaded_file {
	const struct unwind_table *table; /* NULL: the id is free */
	uint32_t refs;			  /* installed processes that map it */
};

/* The file ids one installed process holds a reference to, and its mappings whose tables were not built yet. */
struct installed_process {
	size_t n, n_deferred;
	uint64_t *deferred; /* [start, end) pairs */
	uint32_t ids[];
};

static void installed_process_free(void *p)
{
	struct installed_process *ip = p;
	if (ip)
		free(ip->deferred);
	free(ip);
}

struct kernel_unwind {
	int files_fd, procs_fd;
	struct unwind_cache *cache;
	struct loaded_file files[UNWIND_MAX_FILES]; /* by id; id 0 means "no table" */
	uint32_t high_water;			    /* ids below it have been used */
	struct u32map procs;			    /* pid -> struct installed_process */
	struct kernel_unwind_stats stats;
	bool warned_full;
	/* per-install scratch */
	struct unwind_proc entry;
	struct unwind_mapping mappings[UNWIND_MAX_PROC_MAPPINGS];
	const struct proc_map *from[UNWIND_MAX_PROC_MAPPINGS];
};

static const struct unwind_row_store bpf_row_store;

struct kernel_unwind *kernel_unwind_new(int files_fd, int procs_fd, struct unwind_cache *cache)
{
	struct kernel_unwind *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->files_fd = files_fd;
	k->procs_fd = procs_fd;
	k->cache = cache;
	k->high_water = 1;
	unwind_cache_set_row_store(cache, &bpf_row_store);
	return k;
}

static void release_ids(struct kernel_unwind *k, const uint32_t *ids, size_t n);

void kernel_unwind_free(struct kernel_unwind *k)
{
	if (!k)
		return;
	u32map_free_with(&k->procs, installed_process_free);
	free(k);
}

void kernel_unwind_read_stats(const struct kernel_unwind *k, struct kernel_unwind_stats *out)
{
	*out = k->stats;
}

static uint32_t find_file(const struct kernel_unwind *k, const struct unwind_table *table)
{
	for (uint32_t id = 1; id < k->high_water; id++)
		if (k->files[id].table == table)
			return id;
	return 0;
}

static uint32_t free_id(struct kernel_unwind *k)
{
	for (uint32_t id = 1; id < k->high_water; id++)
		if (!k->files[id].table)
			return id;
	return k->high_water < UNWIND_MAX_FILES ? k->high_water : 0;
}

static size_t mapped_bytes(size_t rows)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (rows * sizeof(struct unwind_row) + page - 1) / page * page;
}

/* An array map of capacity rows, mapped shared: what is written there is what the kernel's walk reads. */
static struct unwind_row *reserve_bpf_rows(size_t capacity, int *handle)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	if (capacity == 0 || capacity > UINT32_MAX)
		return NULL;
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bpfspy_rows", sizeof(uint32_t), sizeof(struct unwind_row),
				(uint32_t)capacity, &opts);
	if (fd < 0)
		return NULL;
	/* populated in one call: faulting in page by page costs ten times as much on a VM */
	void *mem = mmap(NULL, mapped_bytes(capacity), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (mem == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	*handle = fd;
	return mem;
}

static void release_bpf_rows(struct unwind_row *rows, size_t capacity, int handle)
{
	munmap(rows, mapped_bytes(capacity)); /* the array goes with it, unless the outer map holds it */
	if (handle >= 0)
		close(handle);
}

/* Tables the unwind cache builds while the kernel unwinds are written straight into BPF arrays. */
static const struct unwind_row_store bpf_row_store = { .reserve = reserve_bpf_rows, .release = release_bpf_rows };

/* An array map of a table built on the heap (the vDSO's, or one that outgrew its array): a copy. */
static int create_rows_map(const struct unwind_table *table)
{
	int fd;
	struct unwind_row *mem = reserve_bpf_rows(table->row_count, &fd);
	if (!mem)
		return -1;
	memcpy(mem, table->rows, table->row_count * sizeof(*mem));
	munmap(mem, mapped_bytes(table->row_count));
	return fd;
}

/* The id of table's rows in the kernel, loading them on first use; 0 if they cannot be loaded. */
static uint32_t load_file(struct kernel_unwind *k, const struct unwind_table *table)
{
	if (!table || table->row_count == 0 || table->row_count > UINT32_MAX)
		return 0;
	uint32_t id = find_file(k, table);
	if (id)
		return id;
	id = free_id(k);
	/* the table's own array, if its fd is still open (it is closed at the first load: loaded again after a
	 * release, the rows are copied into a new one) */
	bool in_store = table->store == &bpf_row_store && table->store_handle >= 0;
	int fd = !id ? -1 : in_store ? table->store_handle : create_rows_map(table);
	if (fd < 0 || bpf_map_update_elem(k->files_fd, &id, &fd, BPF_ANY) != 0) {
		int err = errno;
		if (fd >= 0 && !in_store)
			close(fd);
		k->stats.files_failed++;
		if (!k->warned_full) {
			k->warned_full = true;
			log_warn("cannot load a native unwind table (%zu rows) into the kernel: %s; stacks through "
				 "that code are unwound from a stack copy, or end in [no unwind table]",
				 table->row_count, id ? strerror(err) : "too many files");
		}
		return 0;
	}
	/* the outer map holds the array now, and so does the table's mapping: its fd is not needed again,
	 * and a thousand loaded files would otherwise hold a thousand fds (the table is the cache's, but
	 * the handle is this store's bookkeeping) */
	close(in_store ? unwind_table_give_store_handle((struct unwind_table *)table) : fd);
	k->files[id] = (struct loaded_file){ .table = table };
	if (id == k->high_water)
		k->high_water++;
	k->stats.files++;
	k->stats.rows += table->row_count;
	if (k->stats.rows > k->stats.peak_rows)
		k->stats.peak_rows = k->stats.rows;
	return id;
}

static void release_ids(struct kernel_unwind *k, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct loaded_file *f = &k->files[ids[i]];
		if (!f->table || --f->refs > 0)
			continue;
		uint32_t id = ids[i];
		bpf_map_delete_elem(k->files_fd, &id);
		k->stats.files--;
		k->stats.rows -= f->table->row_count;
		f->table = NULL;
	}
}

int kernel_unwind_install(struct kernel_unwind *k, pid_t pid, const struct proc_maps *maps)
{
	if (!k || pid <= 0 || !maps)
		return -1;
	size_t n = unwind_cache_mappings(maps, k->mappings, k->from, UNWIND_MAX_PROC_MAPPINGS);
	size_t executable = 0;
	for (size_t i = 0; i < maps->n; i++)
		executable += maps->maps[i].executable && maps->maps[i].end > maps->maps[i].start;
	if (executable > n)
		k->stats.mappings_dropped += executable - n;

	struct installed_process *held = malloc(sizeof(*held) + n * sizeof(uint32_t));
	uint64_t *deferred = n ? malloc(2 * n * sizeof(uint64_t)) : NULL;
	if (!held || (n && !deferred)) {
		free(held);
		free(deferred);
		return -1;
	}
	*held = (struct installed_process){ .deferred = deferred };
	memset(&k->entry, 0, offsetof(struct unwind_proc, m));
	for (size_t i = 0; i < n; i++) {
		struct unwind_mapping *um = &k->mappings[i];
		bool later;
		/* only the tables a walk has needed: the kernel's next stop in the others asks for them */
		unwind_cache_resolve(k->cache, pid, k->from[i], false, um, &later);
		if (later) {
			deferred[2 * held->n_deferred] = um->start;
			deferred[2 * held->n_deferred++ + 1] = um->end;
		}
		uint32_t id = load_file(k, um->table);
		if (id) {
			k->files[id].refs++;
			held->ids[held->n++] = id;
		}
		k->entry.m[i] = (struct unwind_proc_mapping){
			.start = um->start, .end = um->end, .bias = um->bias, .file_id = id,
			.rows = id ? (uint32_t)um->table->row_count : later ? UNWIND_ROWS_DEFERRED : 0,
		};
	}
	k->entry.count = (uint32_t)n;
	uint32_t key = (uint32_t)pid;
	int rc = bpf_map_update_elem(k->procs_fd, &key, &k->entry, BPF_ANY);

	/* the old references go after the new ones are taken, so shared files stay loaded */
	struct installed_process *old = u32map_remove(&k->procs, key);
	if (old) {
		release_ids(k, old->ids, old->n);
		installed_process_free(old);
	}
	if (rc != 0 || u32map_put(&k->procs, key, held) != 0) {
		release_ids(k, held->ids, held->n);
		installed_process_free(held);
		bpf_map_delete_elem(k->procs_fd, &key);
		return -1;
	}
	k->stats.installs++;
	k->stats.deferred_mappings += held->n_deferred;
	return 0;
}

bool kernel_unwind_want(struct kernel_unwind *k, pid_t pid, const struct proc_maps *maps, uint64_t pc)
{
	const struct installed_process *ip = k && pid > 0 ? u32map_get(&k->procs, (uint32_t)pid) : NULL;
	for (size_t i = 0; ip && i < ip->n_deferred; i++) {
		if (pc >= ip->deferred[2 * i] && pc < ip->deferred[2 * i + 1]) {
			const struct proc_map *m = maps ? proc_maps_find(maps, pc) : NULL;
			unwind_cache_want(k->cache, m);
			return m != NULL;
		}
	}
	return false;
}

void kernel_unwind_forget(struct kernel_unwind *k, pid_t pid)
{
	if (!k || pid <= 0)
		return;
	uint32_t key = (uint32_t)pid;
	struct installed_process *old = u32map_remove(&k->procs, key);
	bpf_map_delete_elem(k->procs_fd, &key);
	if (old) {
		release_ids(k, old->ids, old->n);
		installed_process_free(old);
	}
}
