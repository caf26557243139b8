//! Keyset paging for the lists the API reads: which part of a list to read (`PageRequest`), the
//! page that comes back (`Page`), and binding a page's parameters after a list's own.

/// Which part of a list to read. Lists are read by keyset: a page starts after the key of the
/// previous page's last row (`after`), in an order on a unique key, so rows added while a client
/// pages neither shift the pages nor repeat a row, as an offset would make them do.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<K> {
    /// The key of the previous page's last row; `None` for the first page.
    pub after: Option<K>,
    /// At most this many rows (the API allows 1 to 1000).
    pub limit: i64,
    /// Only rows whose time (each list names its own) is at or after `from` and before `to`:
    /// texts as `format_timestamp` writes them, which sort as the instants do.
    pub from: Option<String>,
    pub to: Option<String>,
}

impl<K> PageRequest<K> {
    /// The first `limit` rows, whatever their time.
    pub fn first(limit: i64) -> PageRequest<K> {
        PageRequest { after: None, limit, from: None, to: None }
    }

    pub(super) fn len(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(0)
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds a page's parameters after a list's own, in the order every paged query names them: the
/// key to read after (`bind_page` only), `from`, `to`, and one row more than the page holds
/// (which says whether another page follows, `Page::of`).
pub(super) trait BindPage<'q, K> {
    fn bind_page(self, page: &'q PageRequest<K>) -> Self;
}

pub(super) trait BindWindow<'q> {
    fn bind_window<K>(self, page: &'q PageRequest<K>) -> Self;
}

impl<'q> BindWindow<'q> for AnyQuery<'q> {
    fn bind_window<K>(self, page: &'q PageRequest<K>) -> Self {
        self.bind(page.from.as_deref()).bind(page.to.as_deref()).bind(page.limit + 1)
    }
}

impl<'q> BindPage<'q, i64> for AnyQuery<'q> {
    fn bind_page(self, page: &'q PageRequest<i64>) -> Self {
        self.bind(page.after).bind_window(page)
    }
}

impl<'q> BindPage<'q, String> for AnyQuery<'q> {
    fn bind_page(self, page: &'q PageRequest<String>) -> Self {
        self.bind(page.after.as_deref()).bind_window(page)
    }
}

/// One page of a list, and the key to read the next page after, if there are more rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, K> {
    pub items: Vec<T>,
    pub next: Option<K>,
}

impl<T, K> Page<T, K> {
    /// A page from up to `limit + 1` rows read: the one past the limit only says that there is
    /// a next page, so the last page says it is the last.
    pub(super) fn of(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> K) -> Page<T, K> {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(key)
        } else {
            None
        };
        Page { items, next }
    }
}
