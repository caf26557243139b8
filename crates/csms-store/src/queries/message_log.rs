//! Reads of the message log: a station's logged frames, unpacked from the blocks they are stored
//! in.

use super::paging::{Page, PageRequest};
use crate::log_blocks;
use crate::{Store, StoreError};
use csms_core::clock::format_timestamp;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    pub id: i64,
    pub direction: String,
    pub at: String,
    pub frame: String,
}

impl Store {
    /// A station's logged frames, newest first, keyed by their ids, which address a block and a
    /// place in it (`log_blocks::frame_id`); `from`/`to` on when they were logged. The log is kept
    /// in blocks: they are read newest first, a few at a time, until the page is full. Blocks
    /// whose newest frame is older than `from` are not read. A station's new frames go into new
    /// blocks with higher ids, so they never come between the pages of a reader.
    pub async fn messages(
        &self,
        station_id: &str,
        page: &PageRequest<i64>,
    ) -> Result<Page<MessageView, i64>, StoreError> {
        const BLOCKS_PER_READ: i64 = 8;
        self.flush_log().await?;
        let want = page.len() + 1;
        let mut found = Vec::new();
        // Blocks below this id: the one that holds the cursor's frame and older ones.
        let mut below = page.after.map(|id| log_blocks::block_of(id) + 1);
        while found.len() < want {
            let rows = sqlx::query(
                "SELECT id, body FROM message_blocks WHERE station_id = $1 AND ($2 IS NULL OR id < $2) \
                 AND ($3 IS NULL OR last_at >= $3) ORDER BY id DESC LIMIT $4",
            )
            .bind(station_id)
            .bind(below)
            .bind(page.from.as_deref())
            .bind(BLOCKS_PER_READ)
            .fetch_all(self.pool())
            .await?;
            for row in &rows {
                let block: i64 = row.try_get("id")?;
                let stored: Vec<u8> = row.try_get("body")?;
                let body = log_blocks::unpack(&stored)?;
                let frames = log_blocks::decode(&body)?;
                for (place, frame) in frames.iter().enumerate().rev() {
                    let id = log_blocks::frame_id(block, place);
                    if page.after.is_some_and(|after| id >= after) {
                        continue;
                    }
                    let at = format_timestamp(&frame.at);
                    let outside = page.from.as_deref().is_some_and(|from| at.as_str() < from)
                        || page.to.as_deref().is_some_and(|to| at.as_str() >= to);
                    if outside {
                        continue;
                    }
                    if found.len() == want {
                        break;
                    }
                    found.push(MessageView {
                        id,
                        direction: frame.direction.as_str().to_string(),
                        at,
                        frame: frame.frame.to_string(),
                    });
                }
                below = Some(block);
            }
            if rows.len() < BLOCKS_PER_READ as usize {
                break;
            }
        }
        Ok(Page::of(found, page.len(), |m: &MessageView| m.id))
    }
}
