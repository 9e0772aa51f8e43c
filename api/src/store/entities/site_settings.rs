use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "site_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub system_name: String,
    pub support_email: Option<String>,
    pub support_phone: Option<String>,
    pub legal_notice_url: Option<String>,
    pub privacy_url: Option<String>,
    pub color_primary: String,
    pub color_link: String,
    pub color_success: String,
    pub color_warning: String,
    pub color_danger: String,
    pub color_info: String,
    pub color_text_primary: String,
    pub color_text_secondary: String,
    pub logo_content_type: Option<String>,
    pub logo_data: Option<Vec<u8>>,
    pub time_zone: String,
    pub default_language: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
