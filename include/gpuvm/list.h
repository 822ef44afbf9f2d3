/* SPDX-License-Identifier: MIT */
/*
 * Circular doubly linked lists with the kernel's list_head semantics.
 *
 * An entry that was removed with gpuvm_list_del_init() is empty (points to
 * itself), so gpuvm_list_empty() on the entry tells whether it is on a list.
 */
#ifndef GPUVM_LIST_H
#define GPUVM_LIST_H

#include <gpuvm/common.h>

GPUVM_BEGIN_DECLS

struct gpuvm_list_head {
	struct gpuvm_list_head *next;
	struct gpuvm_list_head *prev;
};

#define GPUVM_LIST_HEAD_INIT(name) \
	{                          \
		&(name), &(name)   \
	}

static inline void gpuvm_list_init(struct gpuvm_list_head *head)
{
	head->next = head;
	head->prev = head;
}

static inline void gpuvm_list_insert__(struct gpuvm_list_head *entry,
				       struct gpuvm_list_head *prev,
				       struct gpuvm_list_head *next)
{
	next->prev = entry;
	entry->next = next;
	entry->prev = prev;
	prev->next = entry;
}

/* Insert @entry right after @head (stack order). */
static inline void gpuvm_list_add(struct gpuvm_list_head *entry,
				  struct gpuvm_list_head *head)
{
	gpuvm_list_insert__(entry, head, head->next);
}

/* Insert @entry right before @head (queue order). */
static inline void gpuvm_list_add_tail(struct gpuvm_list_head *entry,
				       struct gpuvm_list_head *head)
{
	gpuvm_list_insert__(entry, head->prev, head);
}

static inline void gpuvm_list_unlink__(struct gpuvm_list_head *entry)
{
	entry->next->prev = entry->prev;
	entry->prev->next = entry->next;
}

/* Remove @entry; its pointers are left dangling on purpose (use-after-del
 * then shows up under a sanitizer rather than silently working). */
static inline void gpuvm_list_del(struct gpuvm_list_head *entry)
{
	gpuvm_list_unlink__(entry);
	entry->next = NULL;
	entry->prev = NULL;
}

static inline void gpuvm_list_del_init(struct gpuvm_list_head *entry)
{
	gpuvm_list_unlink__(entry);
	gpuvm_list_init(entry);
}

static inline void gpuvm_list_move_tail(struct gpuvm_list_head *entry,
					struct gpuvm_list_head *head)
{
	gpuvm_list_unlink__(entry);
	gpuvm_list_add_tail(entry, head);
}

static inline bool gpuvm_list_empty(const struct gpuvm_list_head *head)
{
	return head->next == head;
}

static inline bool gpuvm_list_is_singular(const struct gpuvm_list_head *head)
{
	return !gpuvm_list_empty(head) && head->next == head->prev;
}

#define gpuvm_list_entry(ptr, type, member) \
	gpuvm_container_of(ptr, type, member)

#define gpuvm_list_first_entry(head, type, member) \
	gpuvm_list_entry((head)->next, type, member)

#define gpuvm_list_first_entry_or_null(head, type, member) \
	(gpuvm_list_empty(head) ? (type *)NULL :           \
				  gpuvm_list_first_entry(head, type, member))

#define gpuvm_list_next_entry__(pos, member) \
	gpuvm_list_entry((pos)->member.next, __typeof__(*(pos)), member)

#define gpuvm_list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#define gpuvm_list_for_each_entry(pos, head, member)                    \
	for ((pos) = gpuvm_list_entry((head)->next, __typeof__(*(pos)), \
				      member);                          \
	     &(pos)->member != (head);                                  \
	     (pos) = gpuvm_list_next_entry__(pos, member))

/* Safe against removal of the current entry. */
#define gpuvm_list_for_each_entry_safe(pos, n, head, member)            \
	for ((pos) = gpuvm_list_entry((head)->next, __typeof__(*(pos)), \
				      member),                          \
	    (n) = gpuvm_list_next_entry__(pos, member);                 \
	     &(pos)->member != (head);                                  \
	     (pos) = (n), (n) = gpuvm_list_next_entry__(n, member))

GPUVM_END_DECLS

#endif /* GPUVM_LIST_H */
