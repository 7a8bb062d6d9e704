//! One Parquet file of one table: its schema, its columns buffered a row group at a time (memory
//! stays flat whatever the partition's size), and the file written to a hidden temporary name
//! that the caller renames into place.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression as Codec, Repetition, Type as PhysicalType, ZstdLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::Type;

/// Rows per row group: ~8 MiB of buffered tickers, and row groups small enough for engines to
/// read in parallel and skip by their statistics.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// What the export writes: one kind of file per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Tickers,
    HourlyByDay,
    Workers,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Tickers, Table::HourlyByDay, Table::Workers];

    /// The table's directory under the export root, and its name in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Table::Tickers => "tickers",
            Table::HourlyByDay => "hourly_by_day",
            Table::Workers => "workers",
        }
    }

    /// The Parquet schema. Timestamps are UTC instants in microseconds; partition columns
    /// (pool, account, dimension, month) are in the path only, as Hive and Spark expect.
    pub fn schema(self) -> &'static str {
        match self {
            Table::Tickers => {
                "message tickers {
                    OPTIONAL INT64 worker_id;
                    REQUIRED INT64 ts (TIMESTAMP(MICROS,true));
                    REQUIRED DOUBLE hashrate_hs;
                    REQUIRED DOUBLE reject_rate;
                    REQUIRED BOOLEAN provisional;
                }"
            }
            Table::HourlyByDay => {
                "message hourly_by_day {
                    OPTIONAL INT64 worker_id;
                    REQUIRED INT64 day (TIMESTAMP(MICROS,true));
                    REQUIRED INT32 hours_final;
                    REQUIRED INT32 hours_up;
                    REQUIRED INT32 up_mask;
                    REQUIRED DOUBLE hashrate_sum;
                    REQUIRED DOUBLE reject_weight_sum;
                }"
            }
            Table::Workers => {
                "message workers {
                    REQUIRED INT64 worker_id;
                    REQUIRED BYTE_ARRAY worker_name (STRING);
                    OPTIONAL INT64 group_id;
                    OPTIONAL BYTE_ARRAY group_name (STRING);
                    OPTIONAL BYTE_ARRAY status (STRING);
                    OPTIONAL INT64 last_share_time (TIMESTAMP(MICROS,true));
                    REQUIRED INT64 first_seen (TIMESTAMP(MICROS,true));
                    REQUIRED INT64 last_seen (TIMESTAMP(MICROS,true));
                }"
            }
        }
    }

    fn parsed_schema(self) -> Type {
        parse_message_type(self.schema()).expect("the export's schemas are valid")
    }
}

/// The column compression (`--compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    Zstd,
    Snappy,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Snappy => "snappy",
        }
    }

    fn codec(self) -> Codec {
        match self {
            // Level 3: zstd's default; higher levels cost far more time for a few percent.
            Compression::Zstd => Codec::ZSTD(ZstdLevel::try_new(3).expect("3 is a zstd level")),
            Compression::Snappy => Codec::SNAPPY,
        }
    }
}

/// Seconds since the epoch as the microseconds a Parquet timestamp holds.
pub fn micros(seconds: i64) -> i64 {
    seconds.saturating_mul(1_000_000)
}

/// One column's values for the row group being filled; `defs` only for optional columns
/// (definition level 1 = a value, 0 = NULL).
enum Column {
    Int64 {
        values: Vec<i64>,
        defs: Option<Vec<i16>>,
    },
    Int32(Vec<i32>),
    Double(Vec<f64>),
    Boolean(Vec<bool>),
    Text {
        values: Vec<ByteArray>,
        defs: Option<Vec<i16>>,
    },
}

impl Column {
    fn for_field(field: &Type) -> Column {
        let defs = field.is_optional().then(Vec::new);
        match field.get_physical_type() {
            PhysicalType::INT64 => Column::Int64 {
                values: Vec::new(),
                defs,
            },
            PhysicalType::INT32 => Column::Int32(Vec::new()),
            PhysicalType::DOUBLE => Column::Double(Vec::new()),
            PhysicalType::BOOLEAN => Column::Boolean(Vec::new()),
            PhysicalType::BYTE_ARRAY => Column::Text {
                values: Vec::new(),
                defs,
            },
            other => unreachable!("no export column is {other}"),
        }
    }

    fn clear(&mut self) {
        match self {
            Column::Int64 { values, defs } => {
                values.clear();
                if let Some(d) = defs {
                    d.clear();
                }
            }
            Column::Int32(values) => values.clear(),
            Column::Double(values) => values.clear(),
            Column::Boolean(values) => values.clear(),
            Column::Text { values, defs } => {
                values.clear();
                if let Some(d) = defs {
                    d.clear();
                }
            }
        }
    }
}

/// A row being appended, column by column in schema order.
pub struct RowBuilder<'a> {
    columns: std::slice::IterMut<'a, Column>,
}

impl RowBuilder<'_> {
    fn next(&mut self) -> &mut Column {
        self.columns
            .next()
            .expect("a row has no more values than its table has columns")
    }

    pub fn i64(&mut self, value: Option<i64>) -> &mut Self {
        match self.next() {
            Column::Int64 { values, defs } => {
                match defs {
                    Some(defs) => defs.push(i16::from(value.is_some())),
                    None => debug_assert!(value.is_some(), "NULL in a required column"),
                }
                values.extend(value);
            }
            _ => unreachable!("an INT64 column"),
        }
        self
    }

    pub fn i32(&mut self, value: i32) -> &mut Self {
        match self.next() {
            Column::Int32(values) => values.push(value),
            _ => unreachable!("an INT32 column"),
        }
        self
    }

    pub fn f64(&mut self, value: f64) -> &mut Self {
        match self.next() {
            Column::Double(values) => values.push(value),
            _ => unreachable!("a DOUBLE column"),
        }
        self
    }

    pub fn bool(&mut self, value: bool) -> &mut Self {
        match self.next() {
            Column::Boolean(values) => values.push(value),
            _ => unreachable!("a BOOLEAN column"),
        }
        self
    }

    pub fn text(&mut self, value: Option<&str>) -> &mut Self {
        match self.next() {
            Column::Text { values, defs } => {
                match defs {
                    Some(defs) => defs.push(i16::from(value.is_some())),
                    None => debug_assert!(value.is_some(), "NULL in a required column"),
                }
                values.extend(value.map(|v| ByteArray::from(v.as_bytes().to_vec())));
            }
            _ => unreachable!("a STRING column"),
        }
        self
    }
}

/// One Parquet file being written.
pub struct TableFile {
    writer: SerializedFileWriter<File>,
    columns: Vec<Column>,
    buffered: usize,
    rows: u64,
}

impl TableFile {
    /// Creates `path` (which must not exist) for `table`; `metadata` goes into the footer.
    pub fn create(
        path: &Path,
        table: Table,
        compression: Compression,
        metadata: Vec<(String, String)>,
    ) -> Result<TableFile, ParquetError> {
        let schema = table.parsed_schema();
        let columns = schema
            .get_fields()
            .iter()
            .map(|f| Column::for_field(f))
            .collect();
        let key_values = metadata
            .into_iter()
            .map(|(key, value)| KeyValue::new(key, value))
            .collect();
        let properties = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(compression.codec())
            .set_created_by(format!("poolhist {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(key_values))
            .build();
        let file = File::options().write(true).create_new(true).open(path)?;
        let writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(properties))?;
        Ok(TableFile {
            writer,
            columns,
            buffered: 0,
            rows: 0,
        })
    }

    /// Appends one row: `fill` gives its values in schema order.
    pub fn push(&mut self, fill: impl FnOnce(&mut RowBuilder)) -> Result<(), ParquetError> {
        fill(&mut RowBuilder {
            columns: self.columns.iter_mut(),
        });
        self.buffered += 1;
        self.rows += 1;
        if self.buffered >= ROW_GROUP_ROWS {
            self.flush_row_group()?;
        }
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn flush_row_group(&mut self) -> Result<(), ParquetError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let mut row_group = self.writer.next_row_group()?;
        for column in &mut self.columns {
            let mut writer = row_group
                .next_column()?
                .ok_or_else(|| ParquetError::General("fewer columns than buffered".into()))?;
            match column {
                Column::Int64 { values, defs } => {
                    writer
                        .typed::<Int64Type>()
                        .write_batch(values, defs.as_deref(), None)?;
                }
                Column::Int32(values) => {
                    writer
                        .typed::<Int32Type>()
                        .write_batch(values, None, None)?;
                }
                Column::Double(values) => {
                    writer
                        .typed::<DoubleType>()
                        .write_batch(values, None, None)?;
                }
                Column::Boolean(values) => {
                    writer.typed::<BoolType>().write_batch(values, None, None)?;
                }
                Column::Text { values, defs } => {
                    writer
                        .typed::<ByteArrayType>()
                        .write_batch(values, defs.as_deref(), None)?;
                }
            }
            writer.close()?;
            column.clear();
        }
        row_group.close()?;
        self.buffered = 0;
        Ok(())
    }

    /// Writes the last row group and the footer, and syncs the file to disk.
    pub fn finish(mut self) -> Result<u64, ParquetError> {
        self.flush_row_group()?;
        let file = self.writer.into_inner()?;
        file.sync_all()?;
        Ok(self.rows)
    }
}

/// The table's columns for the manifest, `?` after the optional ones.
pub fn column_names(table: Table) -> Vec<String> {
    table
        .parsed_schema()
        .get_fields()
        .iter()
        .map(|f| {
            let optional = f.get_basic_info().repetition() == Repetition::OPTIONAL;
            format!("{}{}", f.name(), if optional { "?" } else { "" })
        })
        .collect()
}
