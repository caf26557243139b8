//! Reads for the operator API and for sessions that reconnect. They go straight to the pool and
//! see what the writer has committed. One file per functional block, each with the views it
//! returns; `paging` holds what the lists share.

mod alerts;
mod availability;
mod billing;
mod certificates;
mod commands;
mod device_model;
mod events;
mod exports;
mod faults;
mod message_log;
mod paging;
mod running;
mod stations;
mod tokens;
mod transactions;
mod webhooks;

pub use alerts::{AlertRuleView, AlertView};
pub use billing::{CdrFilter, CdrView, MeterKeyView, TariffView};
pub use certificates::{InstalledCertificateView, IssuedCertificateView};
pub use commands::{ChargingProfileView, CommandView, ReservationView, TransferView};
pub use device_model::{ConfigurationView, DeviceModelView, MonitorView};
pub use events::EventFilter;
pub use exports::{ExportFilter, ExportedReading, RegisterPoints};
pub(crate) use faults::classify_faults;
pub use faults::{FaultFilter, FaultView, StationEventView};
pub use message_log::MessageView;
pub use paging::{Page, PageRequest};
pub use running::RunningCost;
pub use stations::{Availability, AvailabilityView, ConnectorView, StationView};
pub use transactions::{MeterValueView, TransactionFilter, TransactionView};
pub use webhooks::{WebhookDeliveryView, WebhookView};
