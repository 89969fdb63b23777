//! Categories in the database: definitions, example embeddings and the generation that tells
//! running screeners to rebuild their set.

use super::{CategoriesError, Category, CategorySet, Example, NewCategory, Scored};
use crate::store::{vals, Store, StoreError};
use std::sync::Arc;

#[derive(Clone)]
pub struct Categories {
    store: Arc<Store>,
}

use crate::store::sql::{blob_floats as unblob, floats_blob as blob};

impl Categories {
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    /// Stores a category and its example embeddings (made by the model `model_sha256`) in one
    /// transaction.
    pub fn create(&self, c: &NewCategory, model_sha256: &str) -> Result<Category, CategoriesError> {
        c.validate()?;
        self.store.transaction(|db| {
            if db
                .query_opt("SELECT 1 FROM categories WHERE name = ?1", vals![&c.name])?
                .is_some()
            {
                return Err(CategoriesError::Exists(c.name.clone()));
            }
            db.execute(
                "INSERT INTO categories (name, description, created_by) VALUES (?1, ?2, ?3)",
                vals![&c.name, c.description.trim(), &c.created_by],
            )?;
            for (counter, set) in [(0i64, &c.examples), (1, &c.counter_examples)] {
                for Example {
                    image_sha256,
                    embedding,
                } in set
                {
                    db.execute(
                        "INSERT INTO category_examples
                         (category, counter, image_sha256, model_sha256, embedding)
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                        vals![
                            &c.name,
                            counter,
                            image_sha256,
                            model_sha256,
                            blob(embedding)
                        ],
                    )?;
                }
            }
            Ok(())
        })?;
        self.get(&c.name)
    }

    pub fn list(&self) -> Result<Vec<Category>, CategoriesError> {
        let rows = self.store.with(|db| {
            db.query(
                "SELECT c.name, c.description, c.created_by, c.created_at,
                        (SELECT COUNT(*) FROM category_examples e WHERE e.category = c.name AND counter = 0),
                        (SELECT COUNT(*) FROM category_examples e WHERE e.category = c.name AND counter = 1)
                 FROM categories c ORDER BY c.name",
                &[],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(Category {
                    name: r.text(0)?,
                    description: r.text(1)?,
                    created_by: r.text(2)?,
                    created_at: r.text(3)?,
                    examples: r.int(4)? as usize,
                    counter_examples: r.int(5)? as usize,
                })
            })
            .collect::<Result<_, StoreError>>()
            .map_err(Into::into)
    }

    pub fn get(&self, name: &str) -> Result<Category, CategoriesError> {
        self.list()?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| CategoriesError::NotFound(name.to_string()))
    }

    pub fn delete(&self, name: &str) -> Result<(), CategoriesError> {
        let n = self
            .store
            .with(|db| db.execute("DELETE FROM categories WHERE name = ?1", vals![name]))?;
        if n == 0 {
            return Err(CategoriesError::NotFound(name.to_string()));
        }
        Ok(())
    }

    /// Moves with every change to categories or their examples, whichever process made it.
    pub fn generation(&self) -> Result<u64, CategoriesError> {
        let g = self.store.with(|db| {
            db.query_opt("SELECT generation FROM category_generation", &[])?
                .map(|r| r.int(0))
                .transpose()
        })?;
        Ok(g.unwrap_or_default() as u64)
    }

    /// The set for screening with the encoder `model_sha256`. Examples embedded by another
    /// model cannot be compared with its embeddings: their categories are left out, and
    /// counted in the second value.
    pub fn snapshot(&self, model_sha256: &str) -> Result<(CategorySet, usize), CategoriesError> {
        let rows = self.store.with(|db| {
            db.query(
                "SELECT category, counter, model_sha256, embedding FROM category_examples
                 ORDER BY category, counter, image_sha256",
                &[],
            )
        })?;
        let mut categories: Vec<Scored> = Vec::new();
        let mut stale: Vec<String> = Vec::new();
        for r in rows {
            let name = r.text(0)?;
            let counter = r.int(1)?;
            let model = r.text(2)?;
            let embedding = unblob(&r.blob(3)?);
            if model != model_sha256 {
                if !stale.contains(&name) {
                    stale.push(name);
                }
                continue;
            }
            if categories.last().is_none_or(|c| c.name != name) {
                categories.push(Scored {
                    name: name.clone(),
                    examples: Vec::new(),
                    counter_examples: Vec::new(),
                });
            }
            let c = categories.last_mut().expect("pushed above");
            if counter == 1 {
                c.counter_examples.push(embedding);
            } else {
                c.examples.push(embedding);
            }
        }
        categories.retain(|c| !stale.contains(&c.name));
        Ok((CategorySet::new(categories, model_sha256), stale.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(tag: &str, v: [f32; 2]) -> Example {
        Example {
            image_sha256: tag.into(),
            embedding: v.to_vec(),
        }
    }

    #[test]
    fn create_list_snapshot_delete() {
        for (store, _db) in crate::store::test_stores() {
            create_list_snapshot_delete_on(Categories::new(Arc::new(store)));
        }
    }

    fn create_list_snapshot_delete_on(cats: Categories) {
        let g0 = cats.generation().unwrap();
        let new = NewCategory {
            name: "cat".into(),
            description: " a cat ".into(),
            created_by: "admin".into(),
            examples: vec![
                example("a", [1.0, 0.0]),
                example("b", [0.0, 1.0]),
                example("c", [0.6, 0.8]),
            ],
            counter_examples: vec![example("d", [-1.0, 0.0])],
        };
        let c = cats.create(&new, "m1").unwrap();
        assert_eq!((c.examples, c.counter_examples), (3, 1));
        assert_eq!(c.description, "a cat");
        assert!(cats.generation().unwrap() > g0);
        assert!(matches!(
            cats.create(&new, "m1"),
            Err(CategoriesError::Exists(_))
        ));
        let (set, stale) = cats.snapshot("m1").unwrap();
        assert_eq!((set.categories.len(), stale), (1, 0));
        assert_eq!(set.categories[0].examples.len(), 3);
        assert_eq!(set.categories[0].counter_examples, vec![vec![-1.0, 0.0]]);
        let version = set.version.clone();
        let (other, stale) = cats.snapshot("m2").unwrap();
        assert!(other.is_empty() && stale == 1);
        cats.delete("cat").unwrap();
        assert!(cats.snapshot("m1").unwrap().0.is_empty());
        assert!(matches!(
            cats.delete("cat"),
            Err(CategoriesError::NotFound(_))
        ));
        cats.create(&new, "m1").unwrap();
        assert_eq!(
            cats.snapshot("m1").unwrap().0.version,
            version,
            "same set, same version"
        );
    }
}
