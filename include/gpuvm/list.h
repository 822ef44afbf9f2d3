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

/**
 * struct gpuvm_list_head - a list head, or an entry embedded in an object
 * @next: the next entry (the head itself at the end)
 * @prev: the previous entry (the head itself at the start)
 *
 * The list functions do no locking of their own: whoever modifies a list
 * serialises against every other user of it. None of them allocate, block
 * or warn, so all may be used inside a fence signalling section.
 */
struct gpuvm_list_head {
	struct gpuvm_list_head *next;
	struct gpuvm_list_head *prev;
};

#define GPUVM_LIST_HEAD_INIT(name) \
	{                          \
		&(name), &(name)   \
	}

/**
 * gpuvm_list_init() - make @head an empty list (or an unlinked entry)
 * @head: the head or entry to initialise
 *
 * Context: any; the caller serialises access to @head.
 */
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

/**
 * gpuvm_list_add() - insert @entry right after @head (stack order)
 * @entry: the entry to insert; must not be on a list
 * @head: the list head, or an entry to insert after
 *
 * Context: the caller serialises access to the list.
 */
static inline void gpuvm_list_add(struct gpuvm_list_head *entry,
				  struct gpuvm_list_head *head)
{
	gpuvm_list_insert__(entry, head, head->next);
}

/**
 * gpuvm_list_add_tail() - insert @entry right before @head (queue order)
 * @entry: the entry to insert; must not be on a list
 * @head: the list head, or an entry to insert before
 *
 * Context: the caller serialises access to the list.
 */
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

/**
 * gpuvm_list_del() - remove @entry from its list
 * @entry: an entry on a list
 *
 * Both pointers of @entry become NULL, so following them after the removal
 * faults instead of silently working; gpuvm_list_empty() is meaningless on
 * it until it is initialised again.
 * Context: the caller serialises access to the list.
 * Kernel parity: the kernel stores poison values instead of NULL.
 */
static inline void gpuvm_list_del(struct gpuvm_list_head *entry)
{
	gpuvm_list_unlink__(entry);
	entry->next = NULL;
	entry->prev = NULL;
}

/**
 * gpuvm_list_del_init() - remove @entry and leave it empty
 * @entry: an entry on a list, or an empty (initialised) one
 *
 * Afterwards gpuvm_list_empty(@entry) is true.
 * Context: the caller serialises access to the list.
 */
static inline void gpuvm_list_del_init(struct gpuvm_list_head *entry)
{
	gpuvm_list_unlink__(entry);
	gpuvm_list_init(entry);
}

/**
 * gpuvm_list_move_tail() - move @entry to just before @head
 * @entry: an entry on a list, or an empty (initialised) one
 * @head: the destination list head (the entry becomes its last)
 *
 * Context: the caller serialises access to both lists.
 */
static inline void gpuvm_list_move_tail(struct gpuvm_list_head *entry,
					struct gpuvm_list_head *head)
{
	gpuvm_list_unlink__(entry);
	gpuvm_list_add_tail(entry, head);
}

/**
 * gpuvm_list_empty() - whether @head has no entries
 * @head: a list head, or an entry (then: whether it is unlinked)
 *
 * Context: the caller serialises against writers of the list.
 * Return: true when @head points to itself.
 */
static inline bool gpuvm_list_empty(const struct gpuvm_list_head *head)
{
	return head->next == head;
}

/**
 * gpuvm_list_is_singular() - whether @head has exactly one entry
 * @head: a list head
 *
 * Context: the caller serialises against writers of the list.
 * Return: true for exactly one entry, false for none or several.
 */
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
