//! Pagination with the rules of the compat surface, minus its defects (spec §10.17).

/// Default page size (New API's `ItemsPerPage`).
pub const DEFAULT_PAGE_SIZE: u64 = 10;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// A validated, 1-based page request. Negative or zero values never reach SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u64,
    size: u64,
}

impl PageRequest {
    /// Clamps a client's page and page size: page >= 1, 1 <= size <= 100, default size 10.
    pub fn new(page: Option<i64>, size: Option<i64>) -> Self {
        let page = page.filter(|p| *p >= 1).map_or(1, |p| p as u64);
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

    /// Rows to skip; saturates instead of overflowing for absurd page numbers.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.size)
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
    fn huge_page_numbers_saturate() {
        let p = PageRequest::new(Some(i64::MAX), Some(100));
        assert_eq!(p.offset(), u64::MAX);
    }
}
