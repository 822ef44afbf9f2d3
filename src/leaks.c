// SPDX-License-Identifier: MIT
/*
 * The checker's object registry: labels, creation sites and the leak and
 * lifetime report (see gpuvm_report_leaks() in debug.h).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/debug.h>

#include "leaks.h"

#define SITE_LEN 96

/*
 * With the checker on, the VM, vm_bo and GEM layers register every object
 * they create here, keyed by its address: where it was created, its label
 * (a VM's name, a GEM's gpuvm_gem_object_set_label()), the lock names
 * installed for it, and for a VM the counts the leak report needs (its
 * reference count as last seen, its vm_bos and zombies). Nothing lives in
 * the public structs, whose layout is ABI. Plain malloc, one mutex; while
 * the checker is off nothing is registered and the release paths only
 * look here when something still is (gpuvm_obj_live__).
 */
#define OBJ_BUCKETS 4096
#define OBJ_MAX_MAPS 2
#define OBJ_REPORT_VM_BOS 3

enum obj_kind { OBJ_VM, OBJ_VM_BO, OBJ_GEM };

struct obj_string {
	struct obj_string *next;
	char s[];
};

struct obj_entry {
	struct obj_entry *next;
	const void *key;
	enum obj_kind kind;
	const void *site; /* the creator's return address */
	char *label; /* VM: its name; GEM: its label; owned */
	const void *vm; /* vm_bo: its VM */
	const void *gem; /* vm_bo: its GEM object */
	int vm_kref; /* VM: reference count as last seen */
	unsigned int nr_vm_bos; /* VM: vm_bos holding a VM reference */
	int nr_vas; /* VM: inserted VAs (each holds a VM reference) */
	unsigned int nr_zombies; /* VM: zombies; vm_bo: 1 while a zombie */
	bool resv_named_by_vm; /* GEM: its resv is some VM's */
	/* GEM: lock maps renamed, and the names they had before. */
	struct gpuvm_lockdep_map *maps[OBJ_MAX_MAPS];
	const char *orig_names[OBJ_MAX_MAPS];
	/* Every name string installed; freed with the entry (a lock name
	 * must stay valid as long as the lock). */
	struct obj_string *strings;
};

static pthread_mutex_t obj_lock = PTHREAD_MUTEX_INITIALIZER;
static struct obj_entry *obj_table[OBJ_BUCKETS];
unsigned long gpuvm_obj_live__; /* entries, read without obj_lock */

static unsigned int obj_bucket(const void *key)
{
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull;

	return (unsigned int)(h >> 52) & (OBJ_BUCKETS - 1);
}

/* obj_lock held. */
static struct obj_entry **obj_slot(const void *key)
{
	struct obj_entry **pp = &obj_table[obj_bucket(key)];

	while (*pp && (*pp)->key != key)
		pp = &(*pp)->next;
	return pp;
}

static struct obj_entry *obj_find(const void *key)
{
	return *obj_slot(key);
}

/* obj_lock held: put back the lock names the entry replaced. */
static void obj_restore_names(struct obj_entry *e)
{
	unsigned int i;

	for (i = 0; i < OBJ_MAX_MAPS; i++) {
		if (e->maps[i])
			e->maps[i]->name = e->orig_names[i];
		e->maps[i] = NULL;
	}
}

/* obj_lock held: the entry is off the table; account and free it. With
 * @restore, put back the lock names (the object's memory is still
 * valid). */
static void obj_free(struct obj_entry *e, bool restore)
{
	struct obj_string *s, *n;

	if (e->kind == OBJ_VM_BO) {
		struct obj_entry *vm = obj_find(e->vm);

		if (vm && vm->kind == OBJ_VM) {
			if (vm->nr_vm_bos)
				vm->nr_vm_bos--;
			if (e->nr_zombies && vm->nr_zombies)
				vm->nr_zombies--;
		}
	}
	if (restore)
		obj_restore_names(e);
	for (s = e->strings; s; s = n) {
		n = s->next;
		free(s);
	}
	free(e->label);
	free(e);
	__atomic_sub_fetch(&gpuvm_obj_live__, 1, __ATOMIC_RELAXED);
}

/* obj_lock held: a fresh entry for @key, replacing a stale one (an object
 * the driver freed without the library seeing it, whose address came
 * back). NULL when out of memory: the object is then not tracked. */
static struct obj_entry *obj_new(const void *key, enum obj_kind kind,
				 const void *site)
{
	struct obj_entry **pp = obj_slot(key);
	struct obj_entry *e;

	if (*pp) {
		e = *pp;
		*pp = e->next;
		obj_free(e, false); /* its memory is not the old object's */
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = key;
	e->kind = kind;
	e->site = site;
	e->next = obj_table[obj_bucket(key)];
	obj_table[obj_bucket(key)] = e;
	__atomic_add_fetch(&gpuvm_obj_live__, 1, __ATOMIC_RELAXED);
	return e;
}

static char *obj_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

void gpuvm_obj_track_vm__(const void *vm, const char *name, const int *kref,
			  const void *site)
{
	struct obj_entry *e;

	pthread_mutex_lock(&obj_lock);
	e = obj_new(vm, OBJ_VM, site);
	if (e) {
		e->label = obj_strdup(name);
		e->vm_kref = __atomic_load_n(kref, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&obj_lock);
}

void gpuvm_obj_track_gem__(const void *gem, const void *site)
{
	pthread_mutex_lock(&obj_lock);
	obj_new(gem, OBJ_GEM, site);
	pthread_mutex_unlock(&obj_lock);
}

void gpuvm_obj_track_vm_bo__(const void *vm_bo, const void *vm, const void *gem,
			     const void *site)
{
	struct obj_entry *e, *v;

	pthread_mutex_lock(&obj_lock);
	v = obj_find(vm);
	e = obj_new(vm_bo, OBJ_VM_BO, site);
	if (e) {
		e->gem = gem;
		/* Counted only where the untrack will find the VM too. */
		e->vm = v && v->kind == OBJ_VM ? vm : NULL;
		if (e->vm)
			v->nr_vm_bos++;
	}
	pthread_mutex_unlock(&obj_lock);
}

void gpuvm_obj_untrack__(const void *key)
{
	struct obj_entry **pp, *e;

	pthread_mutex_lock(&obj_lock);
	pp = obj_slot(key);
	e = *pp;
	if (e) {
		*pp = e->next;
		obj_free(e, true);
	}
	pthread_mutex_unlock(&obj_lock);
}

/* Read under obj_lock, so the last update reads the latest count. */
void gpuvm_obj_vm_kref__(const void *vm, const int *kref)
{
	struct obj_entry *e;

	pthread_mutex_lock(&obj_lock);
	e = obj_find(vm);
	if (e && e->kind == OBJ_VM)
		e->vm_kref = __atomic_load_n(kref, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&obj_lock);
}

/* A VA was inserted (+1) or removed (-1). A VA inserted while nothing
 * was tracked is not counted; the count never goes below zero. */
void gpuvm_obj_vm_vas__(const void *vm, int delta)
{
	struct obj_entry *e;

	pthread_mutex_lock(&obj_lock);
	e = obj_find(vm);
	if (e && e->kind == OBJ_VM && e->nr_vas + delta >= 0)
		e->nr_vas += delta;
	pthread_mutex_unlock(&obj_lock);
}

void gpuvm_obj_vm_bo_zombie__(const void *vm_bo)
{
	struct obj_entry *e, *v;

	pthread_mutex_lock(&obj_lock);
	e = obj_find(vm_bo);
	if (e && e->kind == OBJ_VM_BO && e->vm && !e->nr_zombies) {
		v = obj_find(e->vm);
		if (v && v->kind == OBJ_VM) {
			e->nr_zombies = 1;
			v->nr_zombies++;
		}
	}
	pthread_mutex_unlock(&obj_lock);
}

/* obj_lock held: name @map "@fmt(@name)", the string owned by @e. */
static void obj_name_map(struct obj_entry *e, struct gpuvm_lockdep_map *map,
			 const char *what, const char *name)
{
	struct obj_string *s;
	unsigned int i, slot = OBJ_MAX_MAPS;
	int n;

	for (i = 0; i < OBJ_MAX_MAPS; i++) {
		if (e->maps[i] == map) {
			slot = i;
			break;
		}
		if (!e->maps[i] && slot == OBJ_MAX_MAPS)
			slot = i;
	}
	if (slot == OBJ_MAX_MAPS)
		return;
	n = snprintf(NULL, 0, "%s '%s'", what, name);
	s = malloc(sizeof(*s) + (size_t)n + 1);
	if (!s)
		return;
	snprintf(s->s, (size_t)n + 1, "%s '%s'", what, name);
	s->next = e->strings;
	e->strings = s;
	if (e->maps[slot] != map) {
		e->maps[slot] = map;
		e->orig_names[slot] = map->name;
	}
	/* The previous string stays on e->strings: a report on another
	 * thread may still be printing it. */
	__atomic_store_n(&map->name, s->s, __ATOMIC_RELEASE);
}

/* obj_lock held: the GEM's entry, registered now if it was not (an object
 * created while the checker was off). */
static struct obj_entry *obj_gem(const void *gem)
{
	struct obj_entry *e = obj_find(gem);

	if (e && e->kind == OBJ_GEM)
		return e;
	return obj_new(gem, OBJ_GEM, NULL);
}

void gpuvm_obj_gem_set_label__(const void *gem, const char *label,
			       struct gpuvm_lockdep_map *gpuva_map,
			       struct gpuvm_lockdep_map *resv_map)
{
	struct obj_entry *e;
	unsigned int i;

	pthread_mutex_lock(&obj_lock);
	e = obj_gem(gem);
	if (!e)
		goto out;
	free(e->label);
	e->label = label ? obj_strdup(label) : NULL;
	if (!e->label) {
		/* Unlabelled: the GEM's lock names go back, unless the resv
		 * is named after a VM. */
		for (i = 0; i < OBJ_MAX_MAPS; i++) {
			if (!e->maps[i] ||
			    (e->resv_named_by_vm && e->maps[i] == resv_map))
				continue;
			e->maps[i]->name = e->orig_names[i];
			e->maps[i] = NULL;
		}
		goto out;
	}
	obj_name_map(e, gpuva_map, "gpuva lock of GEM", e->label);
	if (resv_map && !e->resv_named_by_vm)
		obj_name_map(e, resv_map, "resv of GEM", e->label);
out:
	pthread_mutex_unlock(&obj_lock);
}

void gpuvm_obj_vm_name_resv__(const void *r_obj, const char *vm_name,
			      struct gpuvm_lockdep_map *resv_map)
{
	struct obj_entry *e;

	pthread_mutex_lock(&obj_lock);
	e = obj_gem(r_obj);
	if (e) {
		obj_name_map(e, resv_map, "resv of VM", vm_name);
		e->resv_named_by_vm = true;
	}
	pthread_mutex_unlock(&obj_lock);
}

/* obj_lock held. */
static void obj_describe_locked(char *buf, size_t len, const char *kind,
				const void *key)
{
	struct obj_entry *e = obj_find(key);
	char site[SITE_LEN];

	if (!e) {
		snprintf(buf, len, "%s %p", kind, key);
		return;
	}
	gpuvm_format_site(site, sizeof(site), e->site);
	if (e->label)
		snprintf(buf, len, "%s '%s' (%p, created at %s)", kind,
			 e->label, key, site);
	else
		snprintf(buf, len, "%s %p (created at %s)", kind, key, site);
}

void gpuvm_obj_describe__(char *buf, size_t len, const char *kind,
			  const void *key)
{
	pthread_mutex_lock(&obj_lock);
	obj_describe_locked(buf, len, kind, key);
	pthread_mutex_unlock(&obj_lock);
}

struct leak_msg {
	struct leak_msg *next;
	const char *rule;
	char msg[];
};

/* obj_lock held: queue a report, printed once the lock is dropped. */
static void leak_add(struct leak_msg ***tail, unsigned int *n, const char *rule,
		     const char *msg)
{
	size_t len = strlen(msg) + 1;
	struct leak_msg *m = malloc(sizeof(*m) + len);

	(*n)++;
	if (!m)
		return; /* counted, not printed */
	m->next = NULL;
	m->rule = rule;
	memcpy(m->msg, msg, len);
	**tail = m;
	*tail = &m->next;
}

/* obj_lock held: "; kept by vm_bo of GEM 'fb' (created at ...)". */
static void leak_list_vm_bos(char *buf, size_t len, const void *vm)
{
	char gem[256], site[SITE_LEN];
	unsigned int b, shown = 0, more = 0;
	size_t used = strlen(buf);
	struct obj_entry *e;

	for (b = 0; b < OBJ_BUCKETS; b++) {
		for (e = obj_table[b]; e; e = e->next) {
			if (e->kind != OBJ_VM_BO || e->vm != vm)
				continue;
			if (shown == OBJ_REPORT_VM_BOS) {
				more++;
				continue;
			}
			obj_describe_locked(gem, sizeof(gem), "GEM", e->gem);
			gpuvm_format_site(site, sizeof(site), e->site);
			if (used < len)
				used += (size_t)snprintf(
					buf + used, len - used,
					"%s vm_bo %p of %s, created at %s%s",
					shown ? ";" : ":", e->key, gem, site,
					e->nr_zombies ? " (a zombie)" : "");
			shown++;
		}
	}
	if (more && used < len)
		snprintf(buf + used, len - used, "; and %u more", more);
}

static unsigned int report_leaks(const char *who)
{
	struct leak_msg *head = NULL, **tail = &head, *m, *n;
	unsigned int b, count = 0;
	struct obj_entry *e;
	char what[256], msg[1024];

	pthread_mutex_lock(&obj_lock);
	for (b = 0; b < OBJ_BUCKETS; b++) {
		for (e = obj_table[b]; e; e = e->next) {
			if (e->kind != OBJ_VM)
				continue;
			obj_describe_locked(what, sizeof(what), "VM", e->key);
			if (e->nr_vas > 0 && e->vm_kref > 0 &&
			    e->vm_kref == e->nr_vas + (int)e->nr_vm_bos) {
				snprintf(msg, sizeof(msg),
					 "%s: %s is kept alive only by its %d "
					 "mapping(s) and %u vm_bo(s) after the "
					 "driver's last gpuvm_put() (tear the "
					 "VM down by unmapping everything "
					 "first)",
					 who, what, e->nr_vas, e->nr_vm_bos);
				leak_list_vm_bos(msg, sizeof(msg), e->key);
				leak_add(&tail, &count,
					 GPUVM_RULE_LEAK_VM_KEPT_BY_MAPPINGS,
					 msg);
			} else if (e->nr_vm_bos && e->vm_kref > 0 &&
				   (unsigned int)e->vm_kref == e->nr_vm_bos) {
				snprintf(msg, sizeof(msg),
					 "%s: %s is kept alive only by its %u "
					 "vm_bo(s) after the driver's last "
					 "gpuvm_put() (a vm_bo reference was "
					 "leaked)",
					 who, what, e->nr_vm_bos);
				leak_list_vm_bos(msg, sizeof(msg), e->key);
				leak_add(&tail, &count,
					 GPUVM_RULE_LEAK_VM_KEPT_BY_VM_BOS,
					 msg);
			}
			if (e->nr_zombies) {
				snprintf(msg, sizeof(msg),
					 "%s: %s has %u zombie vm_bo(s) on its "
					 "deferred list that were never "
					 "cleaned up (no "
					 "gpuvm_bo_deferred_cleanup())",
					 who, what, e->nr_zombies);
				leak_add(&tail, &count,
					 GPUVM_RULE_LEAK_ZOMBIE_NOT_CLEANED,
					 msg);
			}
		}
	}
	pthread_mutex_unlock(&obj_lock);

	for (m = head; m; m = n) {
		n = m->next;
		gpuvm_warn(m->rule, "%s", m->msg);
		free(m);
	}
	return count;
}

GPUVM_EXPORT unsigned int gpuvm_report_leaks(void)
{
	if (!gpuvm_debug_active())
		return 0;
	return report_leaks("gpuvm_report_leaks");
}

__attribute__((destructor)) static void report_leaks_at_exit(void)
{
	if (gpuvm_debug_active() &&
	    __atomic_load_n(&gpuvm_obj_live__, __ATOMIC_RELAXED))
		report_leaks("at process exit");
}
