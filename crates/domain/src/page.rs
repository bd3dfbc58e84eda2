//! Pagination with the rules of the compat surface, minus its defects (docs/newapi-behaviour.md
//! §11.5).

/// Default page size (New API's `ItemsPerPage`).
pub const DEFAULT_PAGE_SIZE: u64 = 10;
/// Largest page size a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;
/// Largest page number: beyond it a request is clamped, so the offset (at most about 10^11)
/// always fits the `BIGINT`/`i64` that every database driver binds it as.
pub const MAX_PAGE: u64 = 1_000_000_000;

/// A validated, 1-based page request. Negative or zero values never reach SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u64,
    size: u64,
}

impl PageRequest {
    /// Clamps a client's page and page size: 1 <= page <= [`MAX_PAGE`], 1 <= size <= 100,
    /// default size 10. Every paged route of both surfaces builds its request here.
    pub fn new(page: Option<i64>, size: Option<i64>) -> Self {
        let page = page
            .filter(|p| *p >= 1)
            .map_or(1, |p| (p as u64).min(MAX_PAGE));
        let size = match size {
            Some(s) if s >= 1 => (s as u64).min(MAX_PAGE_SIZE),
            _ => DEFAULT_PAGE_SIZE,
        };
        Self { page, size }
    }

    pub fn page(&self) -> u64 {
        self.page
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Rows to skip; at most `(MAX_PAGE - 1) * MAX_PAGE_SIZE`, far below `i64::MAX`.
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.size
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(None, None)
    }
}

/// One page of results plus the total number of matching rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub request: PageRequest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_give_first_page_of_ten() {
        let p = PageRequest::new(None, None);
        assert_eq!((p.page(), p.size(), p.offset()), (1, 10, 0));
    }

    #[test]
    fn negative_and_zero_values_are_clamped_not_passed_through() {
        let p = PageRequest::new(Some(-3), Some(-1));
        assert_eq!((p.page(), p.size(), p.offset()), (1, 10, 0));
        let p = PageRequest::new(Some(0), Some(0));
        assert_eq!((p.page(), p.size()), (1, 10));
    }

    #[test]
    fn page_size_is_capped_at_one_hundred() {
        let p = PageRequest::new(Some(3), Some(1000));
        assert_eq!((p.size(), p.offset()), (100, 200));
    }

    #[test]
    fn huge_page_numbers_are_clamped_so_the_offset_fits_a_bigint() {
        let p = PageRequest::new(Some(i64::MAX), Some(100));
        assert_eq!(p.page(), MAX_PAGE);
        assert_eq!(p.offset(), (MAX_PAGE - 1) * 100);
        for page in [i64::MAX, i64::MAX - 1, 1 << 62, MAX_PAGE as i64 + 1] {
            for size in [i64::MAX, 100, 1] {
                let p = PageRequest::new(Some(page), Some(size));
                assert!(i64::try_from(p.offset()).is_ok(), "{page} {size}");
                assert!(
                    i64::try_from(p.offset() + p.size()).is_ok(),
                    "{page} {size}"
                );
            }
        }
        assert_eq!(
            PageRequest::new(Some(MAX_PAGE as i64), None).page(),
            MAX_PAGE
        );
    }
}
